"""The town bulletin's own sections, each one SQL statement over the data as it was during the period.

Levels come from one ``GROUPING SETS ((village, grid), (village), ())`` per statement, so the town
total and each village are computed by PostgreSQL (medians cannot be added up), not summed here.
"As it was": staffing, responsibility and pairings are read as of the window's ``as_of`` (the
last instant of the half year, or now for the running one: a row counts when it had started
before and had not ended); reports, referrals and ledger items by their own timestamps against
``as_of`` (a report closed after the half year is open in its bulletin), so a closed period's
figures come out the same whenever they are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.reports.models import ReportCategory
from services.core.signing.models import DUTY_OUTCOMES
from services.core.supervision import providers, sections
from services.core.supervision.halves import china_day
from services.core.supervision.sections import Figures, Unit, Window

GRIDS = """
g as (
    select gr.id as grid_id, gr.parent_id as village_id
    from org_unit gr
    where gr.kind = 'grid' and gr.path like :prefix
)"""

LEVELS = "group by grouping sets ((village_id, grid_id), (village_id), ())"


def active(t: str) -> str:
    """The row ``t`` was in force just before ``:a`` (started before, not ended before)."""
    return f"{t}.starts_at < :a and ({t}.ends_at is null or {t}.ends_at >= :a)"


def _params(unit: Unit, window: Window) -> dict[str, Any]:
    return {
        "prefix": f"{unit.path}%",
        "town": unit.id,
        "s": window.starts_at,
        "a": window.as_of,
        "a_day": china_day(window.as_of),
    }


def _share(numerator: Any, denominator: Any) -> float | None:
    return round(float(numerator) / float(denominator), 4) if denominator else None


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def _split(rows: Sequence[Any], shape: Any) -> Figures:
    """Rows of a grouping-sets statement -> ``{"town": {...}, "villages": {...}, "grids": {...}}``."""
    out: Figures = {"town": {}, "villages": {}, "grids": {}}
    for row in rows:
        level = row["lvl"]
        figures = shape(row)
        if level == 0:
            out["grids"][str(row["grid_id"])] = figures
        elif level == 1:
            out["villages"][str(row["village_id"])] = figures
        else:
            out["town"] = figures
    if not out["town"]:
        out["town"] = shape(None)
    return out


def _get(row: Any, key: str) -> Any:
    return 0 if row is None else (row[key] or 0)


STAFFING = f"""
with {GRIDS},
facts as (
    select g.village_id, g.grid_id,
        (select count(*) from community_role cr
            where cr.org_unit_id = g.grid_id and cr.role = 'sentinel' and {active("cr")}) as sentinels,
        (select count(*) from community_role cr
            where cr.org_unit_id = g.grid_id and cr.role = 'sentinel' and {active("cr")}
              and exists (select 1 from pairing p where p.community_role_id = cr.id
                          and p.kind = 'member_sentinel' and {active("p")})) as sentinels_paired,
        exists (select 1 from community_role cr
            where cr.org_unit_id = g.grid_id and cr.role = 'grid_leader' and {active("cr")}) as has_leader,
        exists (select 1 from community_role cr
            where cr.org_unit_id = g.grid_id and cr.role = 'grid_leader' and {active("cr")}
              and exists (select 1 from pairing p where p.community_role_id = cr.id
                          and p.kind = 'leaders' and {active("p")})) as leader_paired,
        coalesce(
            (select r.team_id from responsibility r where r.org_unit_id = g.grid_id and {active("r")}
                order by r.starts_at desc limit 1),
            (select r.team_id from responsibility r where r.org_unit_id = g.village_id and {active("r")}
                order by r.starts_at desc limit 1)) as team_id
    from g
)
select grouping(village_id, grid_id) as lvl, village_id, grid_id,
    count(*) as grids,
    count(*) filter (where sentinels > 0) as with_sentinel,
    coalesce(sum(sentinels), 0)::bigint as sentinels,
    coalesce(sum(sentinels_paired), 0)::bigint as sentinels_paired,
    count(*) filter (where has_leader) as with_grid_leader,
    count(*) filter (where leader_paired) as grid_leaders_paired,
    count(*) filter (where team_id is not null) as with_team,
    (array_agg(team_id::text))[1] as team_id
from facts {LEVELS}
"""  # noqa: S608 - fixed SQL fragments; every value is a bound parameter

VILLAGES = f"""
select v.id as village_id,
    exists (select 1 from community_role cr
        where cr.org_unit_id = v.id and cr.role = 'community_steward' and {active("cr")}) as has_steward,
    exists (select 1 from community_role cr
        where cr.org_unit_id = v.id and cr.role = 'community_steward' and {active("cr")}
          and exists (select 1 from pairing p where p.community_role_id = cr.id
                      and p.kind = 'stewards' and {active("p")})) as steward_paired
from org_unit v where v.kind = 'village' and v.path like :prefix
"""  # noqa: S608 - fixed SQL fragments; every value is a bound parameter

SPANS = """
select r.org_unit_id, r.unit_kind, r.starts_at, r.ends_at, t.id as team_id, t.name
from responsibility r join org_unit u on u.id = r.org_unit_id join team t on t.id = r.team_id
where u.path like :prefix and r.starts_at < :a and (r.ends_at is null or r.ends_at > :s)
order by r.starts_at
"""

Span = tuple[datetime, datetime, str, str]  # start, end, team id, team name


def _minus(spans: list[Span], holes: list[Span]) -> list[Span]:
    """``spans`` with the time covered by ``holes`` cut out."""
    out = spans
    for h_start, h_end, *_ in holes:
        cut: list[Span] = []
        for start, end, team, name in out:
            if h_end <= start or h_start >= end:
                cut.append((start, end, team, name))
                continue
            if start < h_start:
                cut.append((start, h_start, team, name))
            if h_end < end:
                cut.append((h_end, end, team, name))
        out = cut
    return out


async def team_spans(db: AsyncSession, params: dict[str, Any]) -> dict[str, list[Span]]:
    """Each grid's responsible team through the window: its own responsibilities, and its village's where
    it had none of its own (a grid's responsibility overrides its village's), clipped to ``[s, a)``."""
    rows = (await db.execute(text(SPANS), params)).mappings().all()
    grids = (await db.execute(text(GRID_UNITS), params)).mappings().all()
    own: dict[str, list[Span]] = {}
    village: dict[str, list[Span]] = {}
    for r in rows:
        span = (
            max(r["starts_at"], params["s"]),
            min(r["ends_at"] or params["a"], params["a"]),
            str(r["team_id"]),
            str(r["name"]),
        )
        (own if r["unit_kind"] == "grid" else village).setdefault(str(r["org_unit_id"]), []).append(span)
    out: dict[str, list[Span]] = {}
    for g in grids:
        mine = own.get(str(g["grid_id"]), [])
        inherited = _minus(village.get(str(g["village_id"]), []), mine)
        out[str(g["grid_id"])] = sorted(mine + inherited)
    return out


GRID_UNITS = """
select gr.id as grid_id, gr.parent_id as village_id
from org_unit gr where gr.kind = 'grid' and gr.path like :prefix
"""


async def staffing(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Grids with a sentinel, sentinels paired with a team member, grid leaders paired with a team leader,
    grids and villages with a responsible team, villages' community stewards paired with an institution's."""
    params = _params(unit, window)
    rows = (await db.execute(text(STAFFING), params)).mappings().all()
    names = {
        str(r["id"]): r["name"]
        for r in (await db.execute(text("select id, name from team where district_id = :d"), {"d": unit.district_id}))
        .mappings()
        .all()
    }

    def shape(row: Any) -> Figures:
        grids, sentinels = _get(row, "grids"), _get(row, "sentinels")
        with_leader = _get(row, "with_grid_leader")
        return {
            "grids": grids,
            "grids_with_sentinel": _get(row, "with_sentinel"),
            "sentinel_coverage": _share(_get(row, "with_sentinel"), grids),
            "sentinels": sentinels,
            "sentinels_paired": _get(row, "sentinels_paired"),
            "sentinel_pairing": _share(_get(row, "sentinels_paired"), sentinels),
            "grids_with_grid_leader": with_leader,
            "grid_leaders_paired": _get(row, "grid_leaders_paired"),
            "grid_leader_pairing": _share(_get(row, "grid_leaders_paired"), with_leader),
            "grids_with_team": _get(row, "with_team"),
            "team_coverage": _share(_get(row, "with_team"), grids),
        }

    out = _split(rows, shape)
    for row in rows:
        if row["lvl"] == 0:
            out["grids"][str(row["grid_id"])]["team"] = names.get(row["team_id"]) if row["team_id"] else None
    # Whose the grid was through the half year: a team that changed mid-period shows both, with their dates.
    spans = await team_spans(db, params)
    changed_in: dict[str, int] = {}
    for row in rows:
        if row["lvl"] != 0:
            continue
        grid_id = str(row["grid_id"])
        mine = spans.get(grid_id, [])
        figures = out["grids"][grid_id]
        figures["teams_in_period"] = [{"team": n, "since": _iso(a), "until": _iso(b)} for a, b, _t, n in mine]
        figures["team_changed"] = len({t for _, _, t, _n in mine}) > 1
        if figures["team_changed"]:
            village_id = str(row["village_id"])
            changed_in[village_id] = changed_in.get(village_id, 0) + 1
    for village_id, village_figures in out["villages"].items():
        village_figures["grids_whose_team_changed"] = changed_in.get(village_id, 0)
    out["town"]["grids_whose_team_changed"] = sum(changed_in.values())
    stewards = (await db.execute(text(VILLAGES), params)).mappings().all()
    paired = 0
    for v in stewards:
        village = out["villages"].setdefault(str(v["village_id"]), shape(None))
        village["has_community_steward"] = bool(v["has_steward"])
        village["steward_paired"] = bool(v["steward_paired"])
        village["has_team_everywhere"] = village["grids"] > 0 and village["grids_with_team"] == village["grids"]
        paired += bool(v["steward_paired"])
    villages = len(stewards)
    town = out["town"]
    town["villages"] = villages
    town["villages_with_community_steward"] = sum(bool(v["has_steward"]) for v in stewards)
    town["villages_steward_paired"] = paired
    town["steward_pairing"] = _share(paired, villages)
    town["villages_with_team_everywhere"] = sum(v.get("has_team_everywhere", False) for v in out["villages"].values())
    town["village_team_coverage"] = _share(town["villages_with_team_everywhere"], villages)
    # The three pairings' coverage: stewards (per village), leaders (per grid leader), members (per sentinel).
    town["pairings_coverage"] = {
        "stewards": town["steward_pairing"],
        "leaders": town["grid_leader_pairing"],
        "member_sentinel": town["sentinel_pairing"],
    }
    out["source_counts"] = {"grid": town["grids"], "village": villages, "sentinel": town["sentinels"]}
    return out


def _iso(value: Any) -> str:
    return str(value.isoformat())


REPORTS = f"""
with {GRIDS},
rep as (
    select g.village_id, g.grid_id, r.category, r.submitted_at, r.reported_in_at, r.first_follow_up_at,
        d.due_at, d.met_at,
        (r.cancelled_at is null or r.cancelled_at >= :a) as live,
        (r.closed_at is null or r.closed_at >= :a) and (r.cancelled_at is null or r.cancelled_at >= :a) as open
    from sentinel_report r
    join g on g.grid_id = r.grid_id
    left join deadline d on d.subject_type = 'report' and d.subject_id = r.id and d.kind = 'report.follow_up'
    where r.town_id = :town and r.submitted_at >= :s and r.submitted_at < :a
)
select grouping(village_id, grid_id) as lvl, village_id, grid_id,
    count(*) as reports,
    {", ".join(f"count(*) filter (where category = '{c.value}') as c_{c.value}" for c in ReportCategory)},
    percentile_cont(0.5) within group (order by extract(epoch from reported_in_at - submitted_at))
        filter (where reported_in_at < :a) as to_report_in,
    percentile_cont(0.5) within group (order by extract(epoch from first_follow_up_at - submitted_at))
        filter (where first_follow_up_at < :a) as to_follow_up,
    count(*) filter (where live and (due_at <= :a or met_at < :a)) as due,
    count(*) filter (where live and met_at < :a and met_at <= due_at) as within,
    count(*) filter (where open) as open,
    count(*) filter (where open and due_at < :a and (met_at is null or met_at >= :a)) as overdue
from rep {LEVELS}
"""  # noqa: S608 - fixed SQL fragments; every value is a bound parameter


async def reports(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Sentinel reports by category, median hours to report-in and to first follow-up, share followed up
    within the SLA (of those due), open and overdue at the end of the period."""
    rows = (await db.execute(text(REPORTS), _params(unit, window))).mappings().all()

    def shape(row: Any) -> Figures:
        due, within = _get(row, "due"), _get(row, "within")
        return {
            "reports": _get(row, "reports"),
            "by_category": {c.value: _get(row, f"c_{c.value}") for c in ReportCategory},
            "median_hours_to_report_in": _hours(row["to_report_in"]) if row else None,
            "median_hours_to_first_follow_up": _hours(row["to_follow_up"]) if row else None,
            "due": due,
            "followed_up_within_sla": within,
            "sla_share": _share(within, due),
            "open": _get(row, "open"),
            "overdue": _get(row, "overdue"),
        }

    out = _split(rows, shape)
    out["source_counts"] = {"sentinel_report": out["town"]["reports"]}
    return out


SIGNING = """
with {grids},
quarter as ({quarters}),
res as (
    select g.village_id, g.grid_id, x.id,
        exists (select 1 from signing s where s.resident_id = x.id
                and s.starts_on <= :a_day and s.ends_on > :a_day) as signed,
        (select count(*) from quarter q where exists (
            select 1 from signing s where s.resident_id = x.id
                and s.starts_on <= q.last_day and s.ends_on > q.last_day))
            as duty_due,
        (select count(*) from quarter q where exists (
            select 1 from signing s where s.resident_id = x.id and s.starts_on <= q.last_day and s.ends_on > q.last_day)
            and exists (select 1 from resident_contact c where c.resident_id = x.id
                        and c.outcome in :duty and c.contacted_at >= q.qs and c.contacted_at < q.qe)) as duty_met
    from resident x join g on g.grid_id = x.grid_id
    where x.created_at < :a
)
select grouping(village_id, grid_id) as lvl, village_id, grid_id,
    count(*) as residents,
    count(*) filter (where signed) as signed,
    coalesce(sum(duty_due), 0)::bigint as duty_due,
    coalesce(sum(duty_met), 0)::bigint as duty_met
from res {levels}
"""


def quarters_sql(window: Window, params: dict[str, Any]) -> tuple[str, int]:
    """The ended quarters of the window as a SELECT of (qs, qe, last_day), their bounds added to ``params``."""
    quarters = [(qs, qe) for qs, qe in window.half.quarters() if qe <= window.as_of]
    for i, (qs, qe) in enumerate(quarters):
        params |= {f"qs{i}": qs, f"qe{i}": qe, f"qd{i}": china_day(qe)}
    sql = " union all ".join(
        f"select cast(:qs{i} as timestamptz) as qs, cast(:qe{i} as timestamptz) as qe, cast(:qd{i} as date) as last_day"
        for i in range(len(quarters))
    )
    return sql or "select null::timestamptz as qs, null::timestamptz as qe, null::date as last_day where false", len(
        quarters
    )


def duty_outcomes() -> BindParameter[Any]:
    """The contact outcomes that meet the quarterly duty, as an expanding IN parameter."""
    return bindparam("duty", value=list(DUTY_OUTCOMES), expanding=True)


async def signing(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Signing coverage (residents signed at the end of the period) and the quarterly-contact duty
    (each resident signed on a quarter's last day reached at least once in that quarter; ended quarters only).

    The rule is ``core.duties.metrics.contact_duty``'s (the assessment calls that per team); it is restated
    here in SQL only because the bulletin counts per resident's grid and village in one GROUPING SETS
    statement, which that per-team function cannot answer without a query per grid and quarter."""
    params = _params(unit, window)
    quarters, judged = quarters_sql(window, params)
    stmt = text(SIGNING.format(grids=GRIDS, quarters=quarters, levels=LEVELS)).bindparams(duty_outcomes())
    rows = (await db.execute(stmt, params)).mappings().all()

    def shape(row: Any) -> Figures:
        residents, signed = _get(row, "residents"), _get(row, "signed")
        due, met = _get(row, "duty_due"), _get(row, "duty_met")
        return {
            "residents": residents,
            "signed": signed,
            "signing_coverage": _share(signed, residents),
            "quarters_judged": judged,
            "contact_duty_due": due,
            "contact_duty_met": met,
            "contact_duty_share": _share(met, due),
        }

    out = _split(rows, shape)
    out["source_counts"] = {"resident": out["town"]["residents"]}
    return out


REFERRALS = f"""
with {GRIDS},
ref as (
    select g.village_id, g.grid_id, r.direction, r.appointment_at, r.decided_at, r.first_follow_up_at,
        coalesce(r.discharged_at, r.requested_at) + interval '48 hours' as follow_up_due
    from referral r join g on g.grid_id = r.grid_id
    where r.town_id = :town and r.requested_at >= :s and r.requested_at < :a
)
select grouping(village_id, grid_id) as lvl, village_id, grid_id,
    count(*) filter (where direction = 'upward') as upward,
    count(*) filter (where direction = 'downward') as downward,
    count(*) filter (where direction = 'upward' and decided_at < :a) as decided,
    count(*) filter (where direction = 'upward' and decided_at < :a and appointment_at is not null) as accepted,
    count(*) filter (where direction = 'downward' and (follow_up_due <= :a or first_follow_up_at < :a)) as down_due,
    count(*) filter (where direction = 'downward' and first_follow_up_at < :a
                     and first_follow_up_at <= follow_up_due) as down_in_time
from ref {LEVELS}
"""  # noqa: S608 - fixed SQL fragments; every value is a bound parameter


async def referrals(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Referrals up and down of the unit's residents requested in the period, upward accepted, downward
    followed up within 48 hours of discharge (of those due)."""
    rows = (await db.execute(text(REFERRALS), _params(unit, window))).mappings().all()

    def shape(row: Any) -> Figures:
        return {
            "upward": _get(row, "upward"),
            "downward": _get(row, "downward"),
            "upward_decided": _get(row, "decided"),
            "upward_accepted": _get(row, "accepted"),
            "acceptance_rate": _share(_get(row, "accepted"), _get(row, "decided")),
            "downward_due": _get(row, "down_due"),
            "downward_followed_up_in_time": _get(row, "down_in_time"),
            "downward_in_time_share": _share(_get(row, "down_in_time"), _get(row, "down_due")),
        }

    out = _split(rows, shape)
    out["source_counts"] = {"referral": out["town"]["upward"] + out["town"]["downward"]}
    return out


LEDGER = """
with it as (
    select case when u.kind = 'grid' then u.parent_id else u.id end as village_id,
        (i.verified_at is null or i.verified_at >= :a) as open,
        i.due_on, i.verified_at, i.created_at
    from rectification_item i left join org_unit u on u.id = i.org_unit_id
    where i.town_id = :town and i.created_at < :a
)
select grouping(village_id) as lvl, village_id,
    count(*) as items,
    count(*) filter (where open) as open,
    count(*) filter (where open and due_on < :a_day) as overdue,
    count(*) filter (where verified_at >= :s and verified_at < :a) as verified_in_period
from it group by grouping sets ((village_id), ())
"""


async def rectification(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """The rectification ledger at the end of the period: items, still open, overdue, closed (销号) in it."""
    rows = (await db.execute(text(LEDGER), _params(unit, window))).mappings().all()
    out: Figures = {"town": {}, "villages": {}}

    def shape(row: Any) -> Figures:
        return {k: _get(row, k) for k in ("items", "open", "overdue", "verified_in_period")}

    for row in rows:
        if row["lvl"] == 1:
            out["town"] = shape(row)
        elif row["village_id"] is not None:
            out["villages"][str(row["village_id"])] = shape(row)
    out["town"] = out["town"] or shape(None)
    out["source_counts"] = {"rectification_item": out["town"]["items"]}
    return out


sections.declare("staffing", "哨兵配备与结对", "Sentinels, pairings and responsible teams", staffing)
sections.declare("reports", "哨兵上报与家医报到", "Sentinel reports and report-in", reports)
sections.declare("signing", "签约覆盖与季度联系", "Signing coverage and quarterly contacts", signing)
sections.declare("referrals", "双向转诊", "Two-way referral", referrals)
sections.declare("rectification", "整改问题台帐", "Rectification ledger", rectification)
# Figures of other domains, read through their own metrics (see ``providers``).
sections.declare("social_work", "医务社工个案", "Medical social-work cases", providers.social_work)
sections.declare("volunteers", "志愿服务时长", "Volunteer hours", providers.volunteers)
