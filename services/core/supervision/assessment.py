"""Team assessment (考核) per half year: each family doctor team's indicators against their targets and
weights (configuration: ``GRIDCARE_ASSESSMENT_INDICATORS``, JSON, over the defaults here), a score and
the ranking, in SQL over the district's data as it was during the period.

Score: each judged indicator earns ``weight × min(actual / target, 1)``; the total is scaled to 100
over the weights of the indicators that could be judged (no signed residents, no reports due, or a
capability not built yet leaves an indicator unjudged rather than zero).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.config import Settings
from services.core.duties.metrics import contact_duty
from services.core.notifications.templates import CHINA_TIME
from services.core.supervision import providers, sections
from services.core.supervision.halves import china_day
from services.core.supervision.sections import Figures, Unit, Window
from services.core.supervision.town import GRIDS, active

# name -> (title zh, title en, target, weight)
DEFAULTS: dict[str, tuple[str, str, float, float]] = {
    "signing_coverage": ("签约覆盖率", "signing coverage", 0.6, 25),
    "contact_duty_share": ("季度联系履约率", "quarterly contacts met", 0.9, 20),
    "sla_share": ("按时随访率", "follow-ups within the SLA", 0.9, 20),
    "reports_handled_share": ("上报报到处理率", "reports handled", 0.95, 15),
    "team_work_days": ("家医工作日开展", "family doctor work days held", 1.0, 10),
    "referrals_handled_share": ("下转按时接续率", "referrals handled", 0.9, 10),
}

sections.declare_team_indicator(
    "team_work_days", "家医工作日开展", "family doctor work days held", providers.team_work_days
)


def indicators(settings: Settings) -> dict[str, dict[str, Any]]:
    """Targets and weights: the defaults, overridden per indicator by configuration."""
    out: dict[str, dict[str, Any]] = {}
    for name, (zh, en, target, weight) in DEFAULTS.items():
        override: Mapping[str, Any] = settings.assessment_indicators.get(name, {})
        out[name] = {
            "title_zh": zh,
            "title_en": en,
            "target": float(override.get("target", target)),
            "weight": float(override.get("weight", weight)),
        }
    return out


TEAMS = f"""
with {GRIDS},
cover as (
    select g.grid_id, coalesce(
        (select r.team_id from responsibility r where r.org_unit_id = g.grid_id and {active("r")}
            order by r.starts_at desc limit 1),
        (select r.team_id from responsibility r where r.org_unit_id = g.village_id and {active("r")}
            order by r.starts_at desc limit 1)) as team_id
    from g
),
teams as (
    select distinct r.team_id from responsibility r
    where r.district_id = :district and r.starts_at < :a and (r.ends_at is null or r.ends_at > :s)
),
area as (
    select c.team_id, count(x.id) as residents
    from cover c join resident x on x.grid_id = c.grid_id and x.created_at < :a
    group by c.team_id
),
signed as (
    select s.team_id, count(distinct s.resident_id) as signed from signing s
    where s.district_id = :district and s.starts_on <= :a_day and s.ends_on > :a_day
    group by s.team_id
),
rep as (
    select r.team_id,
        count(*) filter (where r.cancelled_at is null or r.cancelled_at >= :a) as live,
        count(*) filter (where (r.cancelled_at is null or r.cancelled_at >= :a) and r.reported_in_at < :a) as handled,
        count(*) filter (where (r.cancelled_at is null or r.cancelled_at >= :a)
                         and (d.due_at <= :a or d.met_at < :a)) as due,
        count(*) filter (where (r.cancelled_at is null or r.cancelled_at >= :a)
                         and d.met_at < :a and d.met_at <= d.due_at) as within
    from sentinel_report r
    left join deadline d on d.subject_type = 'report' and d.subject_id = r.id and d.kind = 'report.follow_up'
    where r.district_id = :district and r.submitted_at >= :s and r.submitted_at < :a and r.team_id is not null
    group by r.team_id
),
ref as (
    select r.to_team_id as team_id,
        count(*) filter (where coalesce(r.discharged_at, r.requested_at) + interval '48 hours' <= :a
                         or r.first_follow_up_at < :a) as due,
        count(*) filter (where r.first_follow_up_at < :a
            and r.first_follow_up_at <= coalesce(r.discharged_at, r.requested_at) + interval '48 hours') as in_time
    from referral r
    where r.district_id = :district and r.direction = 'downward' and r.requested_at >= :s and r.requested_at < :a
        and r.to_team_id is not null
    group by r.to_team_id
)
select t.id, t.name, i.name as institution,
    coalesce(area.residents, 0) as residents, coalesce(signed.signed, 0) as signed,
    coalesce(rep.live, 0) as reports, coalesce(rep.handled, 0) as handled,
    coalesce(rep.due, 0) as due, coalesce(rep.within, 0) as within,
    coalesce(ref.due, 0) as ref_due, coalesce(ref.in_time, 0) as ref_in_time
from teams join team t on t.id = teams.team_id join institution i on i.id = t.institution_id
left join area on area.team_id = t.id
left join signed on signed.team_id = t.id
left join rep on rep.team_id = t.id
left join ref on ref.team_id = t.id
order by t.name, t.id
"""  # noqa: S608 - fixed SQL fragments; every value is a bound parameter


# Indicators computed here; the others come from a registered provider (sections.register_team_indicator).
LOCAL = ("signing_coverage", "contact_duty_share", "sla_share", "reports_handled_share", "referrals_handled_share")


def _built(name: str) -> bool:
    indicator = sections.REGISTRY.team_indicators.get(name)
    return name in LOCAL or (indicator is not None and indicator.fn is not None)


async def _contact_duty(db: AsyncSession, window: Window, team_ids: list[uuid.UUID]) -> list[dict[str, int]]:
    """Each team's quarterly-contact duty over the ended quarters of the window, summed (residents signed on a
    quarter's last day, and those reached in it), by ``core.duties.metrics.contact_duty``: the rule lives once."""
    due = dict.fromkeys(team_ids, 0)
    met = dict.fromkeys(team_ids, 0)
    for qs, qe in window.half.quarters():
        if qe > window.as_of or not team_ids:
            continue
        quarter = (qs.astimezone(CHINA_TIME).date(), qe.astimezone(CHINA_TIME).date())
        for team_id, duty in (await contact_duty(db, quarter=quarter, on=china_day(qe), team_ids=team_ids)).items():
            due[team_id] += duty.signed
            met[team_id] += duty.reached
    return [{"duty_due": due[t], "duty_met": met[t]} for t in team_ids]


def _share(n: Any, d: Any) -> float | None:
    return round(float(n) / float(d), 4) if d else None


async def assess(
    db: AsyncSession, district: Unit, window: Window, settings: Settings
) -> tuple[Figures, dict[str, int]]:
    """Every team that served an area of the district during the half year, scored and ranked."""
    params: dict[str, Any] = {
        "prefix": f"{district.path}%",
        "district": district.district_id,
        "s": window.starts_at,
        "a": window.as_of,
        "a_day": china_day(window.as_of),
    }
    found = (await db.execute(text(TEAMS), params)).mappings().all()
    duties = await _contact_duty(db, window, [r["id"] for r in found])
    rows = [{**r, **duty} for r, duty in zip(found, duties, strict=True)]
    config = indicators(settings)
    extra: dict[str, dict[uuid.UUID, float | None]] = {}
    for name, indicator in sections.REGISTRY.team_indicators.items():
        if indicator.fn is not None:
            extra[name] = await indicator.fn(db, district, window, [r["id"] for r in rows])
    teams: list[dict[str, Any]] = []
    for r in rows:
        actual: dict[str, float | None] = {
            "signing_coverage": _share(r["signed"], r["residents"]),
            "contact_duty_share": _share(r["duty_met"], r["duty_due"]),
            "sla_share": _share(r["within"], r["due"]),
            "reports_handled_share": _share(r["handled"], r["reports"]),
            "referrals_handled_share": _share(r["ref_in_time"], r["ref_due"]),
        }
        scored: list[Figures] = []  # each indicator: its actual value, target, weight and points
        earned = weights = 0.0
        for name, c in config.items():
            built = _built(name)
            value = actual[name] if name in actual else extra.get(name, {}).get(r["id"])
            points = None
            if value is not None and c["target"] > 0:
                points = round(c["weight"] * min(value / c["target"], 1.0), 2)
                earned += points
                weights += c["weight"]
            scored.append(
                {
                    "indicator": name,
                    "actual": value,
                    "target": c["target"],
                    "weight": c["weight"],
                    "points": points,
                    "status": "ok" if built else "not_built",
                }
            )
        teams.append(
            {
                "team": {"id": str(r["id"]), "name": r["name"], "institution": r["institution"]},
                "counts": {
                    k: int(r[k])
                    for k in (
                        "residents",
                        "signed",
                        "duty_due",
                        "duty_met",
                        "reports",
                        "handled",
                        "due",
                        "within",
                        "ref_due",
                        "ref_in_time",
                    )
                },
                "indicators": scored,
                "score": round(100 * earned / weights, 2) if weights else None,
            }
        )
    teams.sort(key=lambda t: (-(t["score"] if t["score"] is not None else -1), t["team"]["name"], t["team"]["id"]))
    for rank, t in enumerate(teams, start=1):
        t["rank"] = rank
    figures: Figures = {
        "kind": "assessment",
        "unit": {"id": str(district.id), "code": district.code, "name": district.name},
        "period": window.half.name,
        "period_label_zh": window.half.label_zh(),
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "as_of": window.as_of.isoformat(),
        "indicators": [
            {
                "indicator": k,
                **v,
                "status": "ok" if _built(k) else "not_built",
            }
            for k, v in config.items()
        ],
        "teams": teams,
    }
    counts = {"team": len(teams), "sentinel_report": sum(t["counts"]["reports"] for t in teams)}
    return figures, counts
