"""Notifications: apprise channels, Jinja2 templates, digests and a durable outbox."""
