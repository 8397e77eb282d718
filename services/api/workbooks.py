"""One way to answer an .xlsx download, so the roster, volunteer hours and supervision snapshots agree.

The contract lists the workbook's own media type and ``application/octet-stream``: a client generated from
the OpenAPI (openapi-python-client) only reads bytes it can name, and a generic HTTP client that asks for
octet-stream gets exactly that. Everything else gets the workbook's type.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response

from services.api.problems import problem_responses
from services.core.roster.workbook import XLSX_MEDIA_TYPE

OCTET_STREAM = "application/octet-stream"

# The request's Accept header, kept out of the contract (every client may send one).
Accept = Annotated[str | None, Header(include_in_schema=False)]


def xlsx_responses(description: str, filename: str, *problems: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a workbook route: both media types, the Content-Disposition header, problems."""
    return {
        200: {
            "description": f"{description}; as `{OCTET_STREAM}` when the request's `Accept` asks for that",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in (XLSX_MEDIA_TYPE, OCTET_STREAM)
            },
            "headers": {
                "Content-Disposition": {
                    "description": f'`attachment; filename="{filename}"`',
                    "required": True,
                    "schema": {"type": "string", "pattern": "^attachment; filename="},
                }
            },
        },
        **problem_responses(*problems),
    }


def xlsx_answer(content: bytes, *, accept: str | None, filename: str) -> Response:
    """The workbook as an attachment, typed as the client asked (octet-stream only when it did not accept xlsx)."""
    offered = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    octet = OCTET_STREAM in offered and XLSX_MEDIA_TYPE not in offered
    return Response(
        content,
        media_type=OCTET_STREAM if octet else XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
