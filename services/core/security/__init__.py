"""Principals, role grants, the authorization policy, tokens and password hashing."""
