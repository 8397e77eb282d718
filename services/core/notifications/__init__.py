"""Notifications: an inbox per user, a transactional outbox, and the channels that deliver it."""
