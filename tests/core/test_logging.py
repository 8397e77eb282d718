"""Logs are JSON, carry the request id, and never personal data."""

from __future__ import annotations

import json
import logging

from services.core.logging import JsonFormatter, redact, reset_request_id, set_request_id


def test_resident_ids_and_mobiles_are_redacted() -> None:
    text = "lookup 11010519491231002X and 500112199001011234 phone +86 138-1234-5678 or 13912345678"
    out = redact(text)
    for secret in ("11010519491231002X", "500112199001011234", "138-1234-5678", "13912345678"):
        assert secret not in out


def test_a_log_line_is_json_with_the_request_id() -> None:
    token = set_request_id("req-42")
    try:
        record = logging.LogRecord("gridcare", logging.INFO, __file__, 1, "resident %s", ("500112199001011234",), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)
    assert line["request_id"] == "req-42"
    assert "500112199001011234" not in line["msg"]
