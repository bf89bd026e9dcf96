"""Rasa input channels of our own, named by module path in credentials.yml."""
