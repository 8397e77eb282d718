"""Supervision's own refusals."""

from __future__ import annotations

from services.core.errors import Conflict


class NoChange(Conflict):
    """A correction whose figures equal the edition it would supersede."""

    code, title = "no_change", "Nothing to correct"
