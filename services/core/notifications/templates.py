"""What a notification says, in the reader's language: one registry of templates, each in Chinese and English.

A sender builds a ``Message`` (a template name and its parameters); ``notify`` renders it once per
recipient in that account's ``locale`` (``zh-CN`` unless it asks for ``en``). Times are shown in
China time. Parameters only some recipients may read (a resident's masked name) are given as
``restricted`` with the accounts that may read them; the others get the message without them.

Each domain registers its templates where its messages are composed (``register``); a test walks
every ``Message(...)`` and every deadline kind and asks for both languages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

Lang = Literal["zh", "en"]
Render = Callable[[Mapping[str, Any]], tuple[str, str]]

# China has kept UTC+8 without daylight saving since 1991: a fixed offset needs no tz database.
CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_LOCALE = "zh-CN"


@dataclass(frozen=True)
class Template:
    """One message in both languages: each a function of the parameters to (title, body)."""

    zh: Render
    en: Render


_TEMPLATES: dict[str, Template] = {}


def register(name: str, *, zh: Render, en: Render) -> None:
    """Register the template ``name`` (a notification kind, or a deadline kind for its steps)."""
    existing = _TEMPLATES.get(name)
    if existing is not None and (existing.zh is not zh or existing.en is not en):
        raise ValueError(f"notification template {name} registered twice")
    _TEMPLATES[name] = Template(zh=zh, en=en)


def registered() -> dict[str, Template]:
    """Every template this process knows."""
    return dict(_TEMPLATES)


def lang(locale: str | None) -> Lang:
    """``en``, ``en-US``, ... read English; everything else Chinese."""
    return "en" if (locale or "").lower().startswith("en") else "zh"


def china_time(at: datetime | None, language: Lang = "zh") -> str:
    """``2026-03-04 16:00`` in China time (English adds the zone, for readers abroad)."""
    if at is None:
        return "—" if language == "zh" else "-"
    shown = at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    return shown if language == "zh" else f"{shown} (China time)"


@dataclass(frozen=True)
class Message:
    """A template and its parameters, rendered per recipient by ``notify``."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)
    restricted: Mapping[str, Any] = field(default_factory=dict)
    readers: frozenset[uuid.UUID] = frozenset()

    def render(self, locale: str | None, user_id: uuid.UUID | None = None) -> tuple[str, str]:
        """Title and body for one reader."""
        template = _TEMPLATES.get(self.template) or _TEMPLATES[GENERIC]
        params = dict(self.params)
        if user_id is not None and user_id in self.readers:
            params.update(self.restricted)
        render = template.en if lang(locale) == "en" else template.zh
        return render(params)


# The fallback for a message whose template is unknown to this process: still readable, still bilingual.
GENERIC = "generic"


def _generic_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    return str(p.get("title_zh") or "您有一条新消息"), str(p.get("body_zh") or "请打开应用查看详情。")


def _generic_en(p: Mapping[str, Any]) -> tuple[str, str]:
    return str(p.get("title_en") or "You have a new message"), str(p.get("body_en") or "Open the app for details.")


register(GENERIC, zh=_generic_zh, en=_generic_en)
