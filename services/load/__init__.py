"""``gridcare load``: drive a running gridcare over HTTP and say how it answered (see ``morning.py``)."""
