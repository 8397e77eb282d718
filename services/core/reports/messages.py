"""What the loop's messages say, in Chinese and in English: every notification about a report.

Templates (``notifications.templates``) named after what is notified: ``report.submitted``,
``report.unrouted``, ``report.reported_in``, ``report.closed``, and the steps of the two clocks,
``report.follow_up`` and ``report.report_in``. Each names what it is about — the category, the
village and grid, who reported it and who reported in, times in China time — never an id. The
resident's masked name is a restricted parameter: only recipients who may read the grid's
residents get it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant, User
from services.core.notifications.templates import Lang, Message, china_time, register
from services.core.org.models import OrgUnit
from services.core.periods import active_at
from services.core.reports.models import SentinelReport
from services.core.residents.models import Resident
from services.core.security.pii import mask_name
from services.core.security.roles import ROLE_PERMISSIONS, Permission, Role
from services.core.teams.models import Person, Team

CATEGORY: dict[str, tuple[str, str]] = {
    "new_key_population": ("重点人群信息变动", "key-population change"),
    "health_need": ("健康需求", "health need"),
    "urgent_risk": ("紧急风险", "urgent risk"),
    "medicine_delivery": ("代取送药需求", "medicine delivery request"),
    "other": ("其他事项", "other matter"),
}

# Every notification kind and deadline kind the loop sends: the test asks each for both languages.
TEMPLATES = (
    "report.submitted",
    "report.unrouted",
    "report.reported_in",
    "report.closed",
    "report.follow_up",
    "report.report_in",
)


def _category(p: Mapping[str, Any], lang: Lang) -> str:
    names = CATEGORY.get(str(p.get("category")), ("上报事项", "report"))
    return names[0] if lang == "zh" else names[1]


def _a(noun: str) -> str:
    """``a health need``, ``an urgent risk``."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _place(p: Mapping[str, Any], lang: Lang) -> str:
    return f"{p['village']}{p['grid']}" if lang == "zh" else f"{p['grid']}, {p['village']}"


def _resident(p: Mapping[str, Any], lang: Lang) -> str:
    if not p.get("resident"):
        return ""
    return f"（居民{p['resident']}）" if lang == "zh" else f" (resident {p['resident']})"


def _responder(p: Mapping[str, Any], lang: Lang) -> str:
    if not p.get("responder"):
        return "目前尚无人报到。" if lang == "zh" else "Nobody has reported in yet."
    return f"{p['responder']}已报到。" if lang == "zh" else f"{p['responder']} has reported in."


def _phone(p: Mapping[str, Any], lang: Lang) -> str:
    if not p.get("team_phone"):
        return ""
    return f"团队服务电话：{p['team_phone']}。" if lang == "zh" else f" Team service phone: {p['team_phone']}."


# ---------------------------------------------------------------- at submission, report-in, closing


def _submitted_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "zh"), _place(p, "zh")
    when = china_time(p["submitted_at"])
    return (
        f"新的哨兵上报：{place}·{cat}",
        f"{p['reporter'] or '哨兵'}于{when}上报了{place}的{cat}{_resident(p, 'zh')}，请尽快报到。",
    )


def _submitted_en(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "en"), _place(p, "en")
    when = china_time(p["submitted_at"], "en")
    return f"New sentinel report: {cat} in {place}", (
        f"{p['reporter'] or 'A sentinel'} reported {_a(cat)}{_resident(p, 'en')} in {place} at {when}. "
        "Please report in."
    )


def _unrouted_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "zh"), _place(p, "zh")
    return f"无责任团队的哨兵上报：{place}·{cat}", (
        f"{p['reporter'] or '哨兵'}于{china_time(p['submitted_at'])}上报了{place}的{cat}{_resident(p, 'zh')}。"
        "该网格目前没有负责的家庭医生团队，请安排团队报到跟进。"
    )


def _unrouted_en(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "en"), _place(p, "en")
    return f"Sentinel report with no responsible team: {cat} in {place}", (
        f"{p['reporter'] or 'A sentinel'} reported {_a(cat)}{_resident(p, 'en')} in {place} at "
        f"{china_time(p['submitted_at'], 'en')}. No family doctor team is responsible for this grid: "
        "please have a team take it."
    )


def _reported_in_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    cat = _category(p, "zh")
    return f"家庭医生已报到：{cat}", (
        f"{p['responder']}（{p['team']}）已于{china_time(p['reported_in_at'])}对您在{_place(p, 'zh')}上报的{cat}报到。"
        + _phone(p, "zh")
    )


def _reported_in_en(p: Mapping[str, Any]) -> tuple[str, str]:
    cat = _category(p, "en")
    return f"The family doctor has reported in: {cat}", (
        f"{p['responder']} ({p['team']}) reported in on your {cat} in {_place(p, 'en')} at "
        f"{china_time(p['reported_in_at'], 'en')}." + _phone(p, "en")
    )


def _closed_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    cat = _category(p, "zh")
    return f"您上报的{cat}已办结", f"{p['team']}已完成对您在{_place(p, 'zh')}上报的{cat}的随访和干预，事项已办结。"


def _closed_en(p: Mapping[str, Any]) -> tuple[str, str]:
    cat = _category(p, "en")
    return f"Your report was closed: {cat}", (
        f"{p['team']} followed up and closed the {cat} you reported in {_place(p, 'en')}."
    )


# ---------------------------------------------------------------- the steps of the two clocks


def _stage(step: str) -> str:
    return "escalation" if step.startswith("escalation") else step


_FOLLOW_UP_TITLES = {
    "at_start": ("紧急风险，请立即处置：{place}", "Urgent risk, act now: {place}"),
    "team_if_waiting": ("哨兵上报待报到：{place}·{cat}", "Sentinel report waiting for report-in: {cat} in {place}"),
    "reminder": ("随访即将到期：{place}·{cat}", "Follow-up due soon: {cat} in {place}"),
    "breach": ("随访已超时：{place}·{cat}", "Follow-up overdue: {cat} in {place}"),
    "escalation": ("随访超时升级：{place}·{cat}", "Follow-up overdue, escalated: {cat} in {place}"),
}
_REPORT_IN_TITLES = {
    "reminder": ("紧急风险待报到：{place}", "Urgent risk waiting for report-in: {place}"),
    "breach": ("紧急风险报到已超时：{place}", "Urgent risk: report-in overdue in {place}"),
    "escalation": ("紧急风险报到超时升级：{place}", "Urgent risk: report-in overdue, escalated: {place}"),
}


def _step_title(titles: Mapping[str, tuple[str, str]], p: Mapping[str, Any], lang: Lang) -> str:
    pair = titles.get(_stage(str(p["step"])), titles["breach"])
    return (pair[0] if lang == "zh" else pair[1]).format(place=_place(p, lang), cat=_category(p, lang))


def _follow_up_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "zh"), _place(p, "zh")
    body = (
        f"{p['reporter'] or '哨兵'}于{china_time(p['submitted_at'])}上报了{place}的{cat}{_resident(p, 'zh')}。"
        f"{_responder(p, 'zh')}随访应于{china_time(p['due_at'])}（北京时间）前完成。"
    )
    if p["step"] == "at_start":
        body = f"{body}请村（社区）和家庭医生团队立即处置。"
    return _step_title(_FOLLOW_UP_TITLES, p, "zh"), body


def _follow_up_en(p: Mapping[str, Any]) -> tuple[str, str]:
    cat, place = _category(p, "en"), _place(p, "en")
    body = (
        f"{p['reporter'] or 'A sentinel'} reported {_a(cat)}{_resident(p, 'en')} in {place} at "
        f"{china_time(p['submitted_at'], 'en')}. {_responder(p, 'en')} "
        f"The follow-up is due {china_time(p['due_at'], 'en')}."
    )
    if p["step"] == "at_start":
        body = f"{body} The village committee and the family doctor team should act now."
    return _step_title(_FOLLOW_UP_TITLES, p, "en"), body


def _report_in_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    place = _place(p, "zh")
    return _step_title(_REPORT_IN_TITLES, p, "zh"), (
        f"{p['reporter'] or '哨兵'}于{china_time(p['submitted_at'])}上报了{place}"
        f"正在发生的紧急风险{_resident(p, 'zh')}，"
        f"应于{china_time(p['due_at'])}（北京时间）前报到。{_responder(p, 'zh')}"
    )


def _report_in_en(p: Mapping[str, Any]) -> tuple[str, str]:
    place = _place(p, "en")
    return _step_title(_REPORT_IN_TITLES, p, "en"), (
        f"{p['reporter'] or 'A sentinel'} reported an urgent risk happening now{_resident(p, 'en')} in {place} at "
        f"{china_time(p['submitted_at'], 'en')}. Report-in is due {china_time(p['due_at'], 'en')}. "
        + _responder(p, "en")
    )


register("report.submitted", zh=_submitted_zh, en=_submitted_en)
register("report.unrouted", zh=_unrouted_zh, en=_unrouted_en)
register("report.reported_in", zh=_reported_in_zh, en=_reported_in_en)
register("report.closed", zh=_closed_zh, en=_closed_en)
register("report.follow_up", zh=_follow_up_zh, en=_follow_up_en)
register("report.report_in", zh=_report_in_zh, en=_report_in_en)


# ---------------------------------------------------------------- parameters


async def report_message(
    db: AsyncSession, template: str, report: SentinelReport, recipients: Collection[uuid.UUID], **extra: Any
) -> Message:
    """The message ``template`` about ``report`` for ``recipients``: names, places and times, never ids."""
    return (await report_messages(db, [(template, report, recipients, extra)]))[0]


async def report_messages(
    db: AsyncSession, items: Sequence[tuple[str, SentinelReport, Collection[uuid.UUID], Mapping[str, Any]]]
) -> list[Message]:
    """``report_message`` for many ``(template, report, recipients, extra)`` at once, in order: the places,
    teams, residents, names and readers' grants of them all in five queries, whatever their number (the
    sweeper tells a whole batch of clocks with it)."""
    if not items:
        return []
    reports = [report for _, report, _, _ in items]
    units = {u for r in reports for u in (r.village_id, r.grid_id)}
    places: dict[uuid.UUID, tuple[str, str]] = {
        i: (n, p)
        for i, n, p in (
            await db.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.id.in_(units)))
        ).all()
    }
    team_ids = {r.team_id for r in reports if r.team_id}
    teams: dict[uuid.UUID, tuple[str, str | None]] = (
        {
            i: (n, phone)
            for i, n, phone in (
                await db.execute(select(Team.id, Team.name, Team.service_phone).where(Team.id.in_(team_ids)))
            ).all()
        }
        if team_ids
        else {}
    )
    resident_ids = {r.resident_id for r in reports if r.resident_id}
    residents: dict[uuid.UUID, str] = (
        {  # noqa: C416 - typed rows
            i: n
            for i, n in (
                await db.execute(select(Resident.id, Resident.name).where(Resident.id.in_(resident_ids)))
            ).all()
        }
        if resident_ids
        else {}
    )
    names = await _names_of(db, {u for r in reports for u in (r.reporter_id, r.reported_in_by) if u})
    answers: list[Message] = []
    pending_readers: list[tuple[int, Collection[uuid.UUID], str]] = []
    for template, report, recipients, extra in items:
        team = teams.get(report.team_id) if report.team_id else None
        said = message_for(
            template,
            report,
            village=places.get(report.village_id, ("", ""))[0],
            grid=places.get(report.grid_id, ("", ""))[0],
            reporter=names.get(report.reporter_id),
            responder=names.get(report.reported_in_by) if report.reported_in_by else None,
            team=team,
            resident=residents.get(report.resident_id) if report.resident_id is not None else None,
            readers=frozenset(),
            **extra,
        )
        if said.restricted:
            pending_readers.append((len(answers), recipients, places.get(report.grid_id, ("", ""))[1]))
        answers.append(said)
    if pending_readers:
        readers = await _residents_readers(db, {u for _, users, _ in pending_readers for u in users})
        for index, users, grid_path in pending_readers:
            said = answers[index]
            allowed = frozenset(u for u in users if any(grid_path.startswith(p) for p in readers.get(u, ())))
            answers[index] = Message(said.template, said.params, said.restricted, allowed)
    return answers


def message_for(
    template: str,
    report: SentinelReport,
    *,
    village: str,
    grid: str,
    reporter: str | None,
    responder: str | None,
    team: tuple[str, str | None] | None,
    resident: str | None,
    readers: frozenset[uuid.UUID],
    **extra: Any,
) -> Message:
    """The message ``template`` about ``report`` from what was read of it (names of its places, its
    reporter and responder, its team's name and service phone, its resident's name): the one place the
    parameters are made, for ``report_messages`` and for the hot paths that read them in their own
    statement. ``readers``: the recipients who may read the grid's residents (the masked name is theirs)."""
    resident_name = resident
    if report.resident_id is None and report.resident_draft:
        resident_name = str(report.resident_draft.get("name") or "") or None
    params: dict[str, Any] = {
        "category": report.category,
        "village": village,
        "grid": grid,
        "reporter": reporter,
        "responder": responder,
        "team": team[0] if team else "",
        "team_phone": team[1] if team else None,
        "submitted_at": report.submitted_at,
        "reported_in_at": report.reported_in_at,
        **extra,
    }
    restricted = {"resident": mask_name(resident_name)} if resident_name else {}
    return Message(template, params, restricted, readers if restricted else frozenset())


async def _names_of(db: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """Each account's name (its linked person's), else its display name."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(User.id, func.coalesce(Person.name, User.display_name))
        .select_from(User)
        .outerjoin(Person, Person.user_id == User.id)
        .where(User.id.in_(list(user_ids)))
    )
    return {i: n for i, n in rows.all()}  # noqa: C416 - typed rows


async def _residents_readers(db: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Per account among ``user_ids``, the org paths where a grant in force now gives it ``residents:read``:
    the rule of reading the grid's residents through the API (the grid's path starts with the grant's)."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(RoleGrant.user_id, RoleGrant.role, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(RoleGrant.user_id.in_(list(user_ids)), active_at(RoleGrant, clock.now()))
    )
    found: dict[uuid.UUID, list[str]] = {}
    for user_id, role, path in rows.all():
        if Permission.RESIDENTS_READ in ROLE_PERMISSIONS[Role(role)]:
            found.setdefault(user_id, []).append(path)
    return found
