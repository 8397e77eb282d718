"""Signed webhooks (Standard Webhooks v1): subscriptions, the transactional outbox, delivery."""
