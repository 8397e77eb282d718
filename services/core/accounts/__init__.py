"""Accounts: users, their role grants, and logins (sessions and refresh tokens)."""
