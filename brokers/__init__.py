"""Rasa event brokers of our own, named by module path in endpoints.yml (`type:`)."""
