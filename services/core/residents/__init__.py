"""Residents, their protected identity and key-population tags."""
