"""Sentinel reports: the grid whistles, the family doctor reports in, the team intervenes."""
