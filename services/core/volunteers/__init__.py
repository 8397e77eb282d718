"""Volunteers of a social-work department, their shifts and service hours; group and community work."""
