"""Operational state: worker heartbeats and readiness."""
