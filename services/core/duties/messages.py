"""What the duty checks say, in Chinese and in English: names, months, weeks and dates, never an id.

Templates: ``duty.work_day_missed`` (the team leader, after a month without a work day),
``duty.livestream_missed`` (the institution's steward, after a week without a livestream of 30
minutes), ``duty.contacts_due`` (each team member, a month before the quarter ends: how many signed
residents no contact reached yet, and their masked names only for readers who may see them) and
``duty.due_date`` (the roster and the annual summary: a reminder before the date, a notice after).
Parameters missing from a message render as a neutral word, so every template renders for any step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from services.core.notifications.templates import Lang, china_time, register

WORK_DAY_MISSED = "duty.work_day_missed"
LIVESTREAM_MISSED = "duty.livestream_missed"
CONTACTS_DUE = "duty.contacts_due"
DUE_DATE = "duty.due_date"
TEMPLATES = (WORK_DAY_MISSED, LIVESTREAM_MISSED, CONTACTS_DUE, DUE_DATE)

DOCUMENTS: dict[str, tuple[str, str]] = {
    "roster": ("家医网格“双向赋能”成员明细表", "the member roster"),
    "annual_summary": ("年度工作总结", "the annual work summary"),
}


def _day(value: Any, lang: Lang) -> str:
    if not isinstance(value, date):
        return "—" if lang == "zh" else "-"
    return f"{value.year}年{value.month}月{value.day}日" if lang == "zh" else value.strftime("%d %b %Y")


def _month(p: Mapping[str, Any], lang: Lang) -> str:
    start = p.get("month")
    if not isinstance(start, date):
        return "上月" if lang == "zh" else "last month"
    return f"{start.year}年{start.month}月" if lang == "zh" else start.strftime("%B %Y")


def _name(p: Mapping[str, Any], key: str, lang: Lang) -> str:
    fallback = {"team": ("本团队", "your team"), "institution": ("本机构", "your institution")}[key]
    return str(p.get(key) or (fallback[0] if lang == "zh" else fallback[1]))


def _work_day_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    team, month = _name(p, "team", "zh"), _month(p, "zh")
    return f"{month}未开展家庭医生工作日：{team}", (
        f"{team}在{month}没有记录家庭医生工作日。按照方案，每个团队每月应在1至2个村（社区）或网格"
        "开展1至2天家庭医生工作日，请安排并及时记录。"
    )


def _work_day_en(p: Mapping[str, Any]) -> tuple[str, str]:
    team, month = _name(p, "team", "en"), _month(p, "en")
    return f"No family doctor work day in {month}: {team}", (
        f"{team} recorded no family doctor work day in {month}. Each team should hold one or two work days "
        "a month in one or two villages or grids; please plan one and record it."
    )


def _livestream_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    who = _name(p, "institution", "zh")
    week = f"{_day(p.get('week_start'), 'zh')}至{_day(p.get('week_end'), 'zh')}"
    return f"上周未开展健康直播：{who}", (
        f"{who}在{week}这一周没有记录时长不少于30分钟、含居民互动答疑的健康直播。请安排本周直播并及时记录。"
    )


def _livestream_en(p: Mapping[str, Any]) -> tuple[str, str]:
    who = _name(p, "institution", "en")
    week = f"{_day(p.get('week_start'), 'en')} to {_day(p.get('week_end'), 'en')}"
    return f"No health livestream last week: {who}", (
        f"{who} recorded no health livestream of at least 30 minutes with residents' questions in the week "
        f"{week}. Please hold one this week and record it."
    )


def _contacts_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    team, count = _name(p, "team", "zh"), p.get("count", 0)
    names = f"名单：{p['names']}。" if p.get("names") else "名单请在应用中查看。"
    return f"本季度尚有{count}名签约居民未联系", (
        f"{team}的签约居民中，有{count}人本季度尚未联系到（本季度于{china_time(p.get('quarter_ends_at'))}结束）。"
        f"{names}请在季度结束前完成联系。"
    )


def _contacts_en(p: Mapping[str, Any]) -> tuple[str, str]:
    team, count = _name(p, "team", "en"), p.get("count", 0)
    names = f" They are: {p['names']}." if p.get("names") else " The app lists them."
    return f"{count} signed residents not yet contacted this quarter", (
        f"{count} residents signed with {team} have not been reached this quarter, which ends "
        f"{china_time(p.get('quarter_ends_at'), 'en')}.{names} Please contact them before it ends."
    )


def _document(p: Mapping[str, Any], lang: Lang) -> str:
    pair = DOCUMENTS.get(str(p.get("duty")), ("年度材料", "the yearly document"))
    return pair[0] if lang == "zh" else pair[1]


def _due_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    doc, due, towns = _document(p, "zh"), _day(p.get("due_on"), "zh"), p.get("towns") or "有关镇街"
    if p.get("stage") == "overdue":
        return f"已逾期：{doc}（应于{due}前报送）", f"{doc}应于{due}前报送，以下镇街尚未报送：{towns}。请尽快报送。"
    return f"提醒：{doc}应于{due}前报送", f"{doc}应于{due}前报送，以下镇街尚未报送：{towns}。"


def _due_en(p: Mapping[str, Any]) -> tuple[str, str]:
    doc, due, towns = _document(p, "en"), _day(p.get("due_on"), "en"), p.get("towns") or "some towns"
    if p.get("stage") == "overdue":
        return f"Overdue: {doc} (was due by {due})", (
            f"{doc[:1].upper()}{doc[1:]} was due by {due}; not yet handed in by: {towns}. Please hand it in."
        )
    return (
        f"Reminder: {doc} is due by {due}",
        f"{doc[:1].upper()}{doc[1:]} is due by {due}; not yet handed in by: {towns}.",
    )


register(WORK_DAY_MISSED, zh=_work_day_zh, en=_work_day_en)
register(LIVESTREAM_MISSED, zh=_livestream_zh, en=_livestream_en)
register(CONTACTS_DUE, zh=_contacts_zh, en=_contacts_en)
register(DUE_DATE, zh=_due_zh, en=_due_en)
