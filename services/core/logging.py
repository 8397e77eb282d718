"""JSON logs that carry the request id and never personal data.

Nothing logs request bodies; as a second line of defence every message is passed
through a redactor that masks anything shaped like a resident ID or a mobile number.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


def set_request_id(value: str | None) -> object:
    """Bind the request id for this task; returns a token for ``reset_request_id``."""
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    """Undo ``set_request_id``."""
    _request_id.reset(token)  # type: ignore[arg-type]


def redact(text: str) -> str:
    """Mask resident-ID-shaped and mobile-shaped substrings."""
    text = _ID_NUMBER.sub("[redacted-id]", text)
    return _MOBILE.sub("[redacted-phone]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    _SKIP = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
        "message",
        "color_message",
    }

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = _request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in self._SKIP and not key.startswith("_"):
                entry[key] = redact(str(value)) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, arq's) through the JSON formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # uvicorn's access log prints the query string, which may one day carry a search term.
    logging.getLogger("uvicorn.access").disabled = True
