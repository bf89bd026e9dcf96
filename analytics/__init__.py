"""Rapport analytics: how customers feel across all conversations, live.

A process of its own (``python -m analytics``), independent of ``rasa run``. It reads Rasa's
events from the RabbitMQ event broker (or, without one, from the SQL tracker store), keeps
per-minute aggregates of labels and counts in SQL (never message text), fires alerts on anger
spikes and on conversations that need a human, and serves a dashboard. See docs/analytics.md.
"""
