"""Teams-specific problems."""

from __future__ import annotations

from services.core.errors import Forbidden


class MobileNotPermitted(Forbidden):
    code, title = "mobile_not_permitted", "The full mobile number is not visible to this role"
