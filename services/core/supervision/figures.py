"""What a snapshot says: the town bulletin assembled from its sections, the headline figures that
compare half years and towns, the attention list, the district roll-up and the team assessment.

``DEFINITIONS_VERSION`` names these definitions; a stored snapshot carries the version it was made
with, so a later change of a definition is a new version of the definitions, never a silent
change of what an old bulletin meant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.supervision import sections
from services.core.supervision import town as _town  # noqa: F401 - declares the town sections
from services.core.supervision.sections import Figures, Unit, Window

DEFINITIONS_VERSION = "2026.1"

# Where a village or grid "needs attention" (the bulletin's list), beside plain absences.
SLA_TARGET = 0.9
SIGNING_TARGET = 0.6
CONTACT_TARGET = 0.9

# The figures that compare half years (changes) and towns (the roll-up): (section, key, title zh, title en, better).
HEADLINE: tuple[tuple[str, str, str, str, str], ...] = (
    ("staffing", "sentinel_coverage", "网格哨兵配备率", "grids with a sentinel", "higher"),
    ("staffing", "sentinel_pairing", "哨兵结对率", "sentinels paired with a team member", "higher"),
    ("staffing", "grid_leader_pairing", "网格长结对率", "grid leaders paired with a team leader", "higher"),
    ("staffing", "steward_pairing", "管家结对率", "community stewards paired", "higher"),
    ("staffing", "team_coverage", "网格家医团队覆盖率", "grids with a responsible team", "higher"),
    ("reports", "reports", "哨兵上报数", "sentinel reports", "neutral"),
    ("reports", "sla_share", "按时随访率", "followed up within the SLA", "higher"),
    ("reports", "overdue", "逾期未随访数", "overdue reports", "lower"),
    ("signing", "signing_coverage", "签约覆盖率", "signing coverage", "higher"),
    ("signing", "contact_duty_share", "季度联系履约率", "quarterly contacts met", "higher"),
    ("referrals", "upward", "上转人次", "referrals up", "neutral"),
    ("referrals", "downward", "下转人次", "referrals down", "neutral"),
    ("referrals", "downward_in_time_share", "下转按时随访率", "downward referrals followed up in time", "higher"),
    ("rectification", "open", "未销号整改问题", "open rectification items", "lower"),
)
# The shares a town's composite score averages (the roll-up's ranking).
SCORED = (
    "sentinel_coverage",
    "sentinel_pairing",
    "team_coverage",
    "sla_share",
    "signing_coverage",
    "contact_duty_share",
)


def headline(section_figures: dict[str, Figures]) -> dict[str, Any]:
    """The town totals that compare: one flat mapping (None where a section is not built or not judged)."""
    out: dict[str, Any] = {}
    for section, key, *_ in HEADLINE:
        figures = section_figures.get(section, {})
        out[key] = figures.get("town", {}).get(key) if figures.get("status") == "ok" else None
    return out


def score(values: dict[str, Any]) -> float | None:
    """The mean of the scored shares that could be judged, as a percentage."""
    shares = [float(values[k]) for k in SCORED if values.get(k) is not None]
    return round(100 * sum(shares) / len(shares), 2) if shares else None


def changes(now: dict[str, Any], previous: dict[str, Any] | None, reference: dict[str, Any] | None) -> Figures:
    """Each headline figure now, in the previous half year's bulletin, and the change."""
    rows = []
    for _section, key, zh, en, better in HEADLINE:
        before = previous.get(key) if previous else None
        value = now.get(key)
        delta = round(value - before, 4) if value is not None and before is not None else None
        rows.append(
            {
                "key": key,
                "title_zh": zh,
                "title_en": en,
                "better": better,
                "now": value,
                "before": before,
                "change": delta,
            }
        )
    return {"previous": reference, "rows": rows}


def _reason(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "text_zh": zh, "text_en": en}


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def attention(units: dict[str, Figures], section_figures: dict[str, Figures]) -> list[Figures]:
    """Villages and grids that need attention, most reasons (then most overdue) first, each with its reasons."""
    staffing = section_figures.get("staffing", {})
    reports = section_figures.get("reports", {})
    signing = section_figures.get("signing", {})
    ledger = section_figures.get("rectification", {})
    found: list[Figures] = []
    for unit_id, unit in units.items():
        level = unit["kind"]
        key = "grids" if level == "grid" else "villages"
        st = staffing.get(key, {}).get(unit_id, {})
        rp = reports.get(key, {}).get(unit_id, {})
        sg = signing.get(key, {}).get(unit_id, {})
        reasons = []
        if level == "grid":
            if not st.get("grids_with_sentinel"):
                reasons.append(_reason("no_sentinel", "网格未配备健康哨兵", "no health sentinel"))
            elif st.get("sentinels_paired", 0) < st.get("sentinels", 0):
                reasons.append(_reason("sentinel_unpaired", "有哨兵未与团队成员结对", "a sentinel is not paired"))
            if not st.get("grids_with_team"):
                reasons.append(_reason("no_team", "网格无责任家医团队", "no responsible family doctor team"))
            if st.get("grids_with_grid_leader") and not st.get("grid_leaders_paired"):
                reasons.append(_reason("leader_unpaired", "网格长未与团队长结对", "grid leader not paired"))
        else:
            if st and not st.get("has_community_steward"):
                reasons.append(_reason("no_steward", "村(社区)未明确健康管家", "no community health steward"))
            elif st and not st.get("steward_paired"):
                reasons.append(_reason("steward_unpaired", "健康管家未与家医管家结对", "community steward not paired"))
            lg = ledger.get("villages", {}).get(unit_id, {})
            if lg.get("overdue"):
                reasons.append(
                    _reason(
                        "rectification_overdue",
                        f"整改问题逾期未销号 {lg['overdue']} 项",
                        f"{lg['overdue']} rectification item(s) overdue",
                    )
                )
        if rp.get("overdue"):
            reasons.append(
                _reason("reports_overdue", f"逾期未随访上报 {rp['overdue']} 件", f"{rp['overdue']} report(s) overdue")
            )
        if rp.get("sla_share") is not None and rp["sla_share"] < SLA_TARGET:
            reasons.append(
                _reason(
                    "sla_low",
                    f"按时随访率 {_pct(rp['sla_share'])}，低于 {_pct(SLA_TARGET)}",
                    f"followed up within the SLA {_pct(rp['sla_share'])}, below {_pct(SLA_TARGET)}",
                )
            )
        if level == "village" and sg.get("signing_coverage") is not None and sg["signing_coverage"] < SIGNING_TARGET:
            reasons.append(
                _reason(
                    "signing_low",
                    f"签约覆盖率 {_pct(sg['signing_coverage'])}，低于 {_pct(SIGNING_TARGET)}",
                    f"signing coverage {_pct(sg['signing_coverage'])}, below {_pct(SIGNING_TARGET)}",
                )
            )
        share = sg.get("contact_duty_share")
        if level == "village" and share is not None and share < CONTACT_TARGET:
            reasons.append(
                _reason(
                    "contacts_low",
                    f"季度联系履约率 {_pct(share)}，低于 {_pct(CONTACT_TARGET)}",
                    f"quarterly contacts met {_pct(share)}, below {_pct(CONTACT_TARGET)}",
                )
            )
        if reasons:
            found.append(
                {
                    "level": level,
                    "id": unit_id,
                    "code": unit["code"],
                    "name": unit["name"],
                    "village": unit.get("village"),
                    "reasons": reasons,
                    "overdue": rp.get("overdue", 0),
                }
            )
    found.sort(key=lambda f: (-len(f["reasons"]), -f["overdue"], f["code"]))
    for rank, entry in enumerate(found, start=1):
        entry["rank"] = rank
    return found


UNITS = """
select u.id, u.kind, u.code, u.name, p.name as parent_name
from org_unit u join org_unit p on p.id = u.parent_id
where u.path like :prefix and u.kind in ('village', 'grid')
order by u.code
"""


async def town_bulletin(
    db: AsyncSession, unit: Unit, window: Window, previous: dict[str, Any] | None = None
) -> tuple[Figures, dict[str, int]]:
    """The town bulletin's figures (sections, headline, changes, attention) and its source row counts.

    ``previous`` is the previous half year's stored bulletin (``{"id", "edition", "content_hash",
    "headline"}``), whose headline the changes compare with; None when there was none.
    """
    computed, counts = await sections.compute(db, unit, window)
    rows = (await db.execute(text(UNITS), {"prefix": f"{unit.path}%"})).mappings().all()
    units = {
        str(r["id"]): {
            "kind": r["kind"],
            "code": r["code"],
            "name": r["name"],
            "village": r["parent_name"] if r["kind"] == "grid" else None,
        }
        for r in rows
    }
    # Each section's villages and grids as lists in code order, named: what people read and what hashes stably.
    for section in computed.values():
        for key in ("villages", "grids"):
            if key in section:
                keyed = section[key]
                section[key] = [
                    {"id": uid, "code": units[uid]["code"], "name": units[uid]["name"], **keyed[uid]}
                    for uid in sorted(keyed, key=lambda u: units.get(u, {}).get("code", u))
                    if uid in units
                ]
    keyed_sections = {
        name: {**f, **{k: {row["id"]: row for row in f[k]} for k in ("villages", "grids") if k in f}}
        for name, f in computed.items()
    }
    top = headline(computed)
    titles = {name: {"zh": s.title_zh, "en": s.title_en} for name, s in sections.REGISTRY.sections.items()}
    figures: Figures = {
        "kind": "town",
        "unit": {"id": str(unit.id), "code": unit.code, "name": unit.name},
        "period": window.half.name,
        "period_label_zh": window.half.label_zh(),
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "as_of": window.as_of.isoformat(),
        "section_titles": titles,
        "section_order": list(computed),  # JSONB keeps no key order: the order people read them in
        "sections": computed,
        "headline": top,
        "score": score(top),
        "changes": changes(
            top,
            previous.get("headline") if previous else None,
            {k: previous[k] for k in ("id", "edition", "content_hash", "period")} if previous else None,
        ),
        "attention": attention(units, keyed_sections),
    }
    return figures, counts


def rollup(district: Unit, window: Window, towns: Sequence[dict[str, Any]]) -> tuple[Figures, dict[str, int]]:
    """The district roll-up from the towns' issued bulletins: side by side, ranked by the composite score.

    ``towns`` carry each bulletin's ``id``, ``edition``, ``content_hash`` and its stored figures.
    """
    rows: list[dict[str, Any]] = []
    for t in towns:
        figures = t["figures"]
        rows.append(
            {
                "town": figures["unit"],
                "bulletin": {"id": t["id"], "edition": t["edition"], "content_hash": t["content_hash"]},
                "headline": figures["headline"],
                "score": figures.get("score"),
                "attention": len(figures.get("attention", [])),
            }
        )
    rows.sort(key=lambda r: (-(r["score"] if r["score"] is not None else -1), r["town"]["code"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    figures_out: Figures = {
        "kind": "district",
        "unit": {"id": str(district.id), "code": district.code, "name": district.name},
        "period": window.half.name,
        "period_label_zh": window.half.label_zh(),
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "as_of": window.as_of.isoformat(),
        "headline_titles": [{"key": k, "title_zh": zh, "title_en": en, "better": b} for _s, k, zh, en, b in HEADLINE],
        "towns": rows,
    }
    return figures_out, {"supervision_bulletin": len(rows)}


def team_ids(figures: Figures) -> list[uuid.UUID]:
    """The teams an assessment ranks."""
    return [uuid.UUID(t["team"]["id"]) for t in figures.get("teams", [])]
