"""Institutions, people (staff and community workers), family doctor teams, members and backing."""
