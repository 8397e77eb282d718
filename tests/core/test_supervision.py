"""Supervision bulletins: the figures of a small town counted by hand, once per period, corrections as new
editions, the hash, the roll-up that waits for the last town, the assessment, and what people take away."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC
from html.parser import HTMLParser
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.errors import IllegalTransition
from services.core.notifications.models import Notification
from services.core.org.models import OrgUnit
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.supervision import figures, halves, outputs, sections, service
from services.core.supervision.errors import NoChange
from services.core.supervision.halves import HalfYear, content_hash
from services.core.supervision.models import Bulletin, SnapshotKind
from tests.supervision_world import SupervisionWorld, _report, build_supervision_world, cn

H1 = HalfYear(2026, 1)


async def principal(db: AsyncSession, user: Any, role: Role) -> Principal:
    from services.core.accounts.models import RoleGrant

    grant = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == user.id))
    assert grant is not None
    unit = await db.get(OrgUnit, grant.org_unit_id)
    assert unit is not None
    return Principal(
        user_id=user.id,
        username=user.username,
        kind="person",
        session_id=user.id,
        grants=(Grant(grant.id, role, unit.id, unit.path),),
    )


async def town_bulletin(db: AsyncSession, world: SupervisionWorld) -> Bulletin:
    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    bulletin, made = await service.produce_town(db, town, H1)
    assert made
    return bulletin


def by_code(rows: list[dict[str, Any]], unit: Any) -> dict[str, Any]:
    return next(r for r in rows if r["code"] == unit.code)


async def test_the_town_bulletin_equals_the_figures_counted_by_hand(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    f = bulletin.figures
    assert f["period"] == "2026H1"
    assert f["as_of"] == H1.ends_at.isoformat()
    staffing = f["sections"]["staffing"]
    # 3 grids; G1 and G2 have a sentinel (s1; s2 — s3 left in March); only s1 is paired; G1's and G2's grid
    # leaders, only G1's paired; G1 is A's through V1, G2 is B's since April; G3 has no team.
    assert {
        k: staffing["town"][k]
        for k in (
            "grids",
            "grids_with_sentinel",
            "sentinels",
            "sentinels_paired",
            "grids_with_grid_leader",
            "grid_leaders_paired",
            "grids_with_team",
            "grids_whose_team_changed",
            "villages",
            "villages_with_community_steward",
            "villages_steward_paired",
            "villages_with_team_everywhere",
        )
    } == {
        "grids": 3,
        "grids_with_sentinel": 2,
        "sentinels": 2,
        "sentinels_paired": 1,
        "grids_with_grid_leader": 2,
        "grid_leaders_paired": 1,
        "grids_with_team": 2,
        "grids_whose_team_changed": 1,
        "villages": 2,
        "villages_with_community_steward": 1,
        "villages_steward_paired": 1,
        "villages_with_team_everywhere": 1,
    }
    assert staffing["town"]["pairings_coverage"] == {"stewards": 0.5, "leaders": 0.5, "member_sentinel": 0.5}
    g2 = by_code(staffing["grids"], world.g2)
    assert g2["team"] == world.team_b.name
    assert g2["team_changed"] is True
    # the grid whose team changed mid-period: A from 1 January (its own responsibility), B from 1 April
    assert [(s["team"], s["since"][:10], s["until"][:10]) for s in g2["teams_in_period"]] == [
        (world.team_a.name, "2025-12-31", "2026-03-31"),  # UTC instants of China-time midnights
        (world.team_b.name, "2026-03-31", "2026-06-30"),
    ]
    g1 = by_code(staffing["grids"], world.g1)
    assert [s["team"] for s in g1["teams_in_period"]] == [world.team_a.name]
    assert g1["team_changed"] is False
    assert by_code(staffing["grids"], world.g3)["grids_with_team"] == 0

    reports = f["sections"]["reports"]
    # r1..r5 and r7 were submitted in the half year (r6 the December before); r5 was cancelled.
    # Report-in after 1, 3, 2 h (r1, r2, r7): median 2; first follow-up after 10, 60, 5 h: median 10.
    # Due by the end of June: r1, r2, r3, r7 (r4's clock runs into July); within 48 h: r1, r7.
    # Open at the end of June: r2, r3, r4, and r7 (closed on 5 July); overdue: r3 (r2 was followed up late).
    assert reports["town"] == {
        "reports": 6,
        "by_category": {
            "new_key_population": 0,
            "health_need": 3,
            "urgent_risk": 1,
            "medicine_delivery": 1,
            "other": 1,
        },
        "median_hours_to_report_in": 2.0,
        "median_hours_to_first_follow_up": 10.0,
        "due": 4,
        "followed_up_within_sla": 2,
        "sla_share": 0.5,
        "open": 4,
        "overdue": 1,
    }
    g2_reports = by_code(reports["grids"], world.g2)
    assert (g2_reports["reports"], g2_reports["due"], g2_reports["followed_up_within_sla"], g2_reports["overdue"]) == (
        2,
        2,
        0,
        1,
    )
    assert by_code(reports["villages"], world.v1)["reports"] == 6

    signing = f["sections"]["signing"]["town"]
    # res1 (A, all year) and res3 (B, from 15 April) are signed on 30 June: 2 of 4 residents.
    # Quarterly duty: res1 in Q1 (reached 10 Feb: met) and Q2 (only unreachable: not met); res3 in Q2
    # (refused on 20 May: a contact that reached the resident, met).
    assert signing == {
        "residents": 4,
        "signed": 2,
        "signing_coverage": 0.5,
        "quarters_judged": 2,
        "contact_duty_due": 3,
        "contact_duty_met": 2,
        "contact_duty_share": 0.6667,
    }

    referrals = f["sections"]["referrals"]["town"]
    assert referrals == {
        "upward": 1,
        "downward": 2,
        "upward_decided": 1,
        "upward_accepted": 1,
        "acceptance_rate": 1.0,
        "downward_due": 2,
        "downward_followed_up_in_time": 1,
        "downward_in_time_share": 0.5,
    }

    ledger = f["sections"]["rectification"]["town"]
    assert ledger == {"items": 2, "open": 1, "overdue": 1, "verified_in_period": 1}

    # social work, counted where the client lives: c1 (G1) opened and closed, c2 (G2) opened and open, c3 (a
    # non-resident) opened and open in the town total only, c0 closed in 2025 nowhere; c1's transfer answered
    # and followed up in time, c2's unanswered and its clock breached.
    social = f["sections"]["social_work"]
    assert social["status"] == "ok"
    transfers = {
        "transfers_offered": 2,
        "transfers_accepted": 1,
        "transfers_followed_up_in_time": 1,
        "transfers_follow_up_missed": 1,
        "transfer_in_time_share": 0.5,
    }
    assert {k: social["town"][k] for k in ("cases_opened", "cases_active", "cases_closed", "non_resident_cases")} == {
        "cases_opened": 3,
        "cases_active": 2,
        "cases_closed": 1,
        "non_resident_cases": 1,
    }
    assert {k: social["town"][k] for k in transfers} == transfers
    assert social["town"]["by_service_area"] == {
        "psychosocial": {"opened": 2, "active": 1, "closed": 1},
        "resource_integration": {"opened": 1, "active": 1, "closed": 0},
    }
    assert by_code(social["villages"], world.v1) == {
        "id": str(world.v1.id),
        "code": world.v1.code,
        "name": world.v1.name,
        "cases_opened": 2,
        "cases_active": 1,
        "cases_closed": 1,
        **transfers,
    }
    g1_cases = by_code(social["grids"], world.g1)
    assert (g1_cases["cases_opened"], g1_cases["cases_active"], g1_cases["cases_closed"]) == (1, 0, 1)
    assert (g1_cases["transfers_accepted"], g1_cases["transfers_followed_up_in_time"]) == (1, 1)
    assert by_code(social["grids"], world.g2)["transfers_follow_up_missed"] == 1
    assert by_code(social["grids"], world.g3)["cases_opened"] == 0
    assert "非本地居民" in social["note_zh"]

    # verified hours of the institutions sitting here: the health centre (town) 2.5 (3 rejected, 4 pending,
    # 8 in 2025 outside); clinic K at V1 logged only a rejected entry: 0; station N at G3 logged nothing: null.
    hours = f["sections"]["volunteers"]
    assert hours["status"] == "ok"
    assert hours["town"] == {"institutions": 3, "verified_hours": 2.5, "pending_hours": 4.0}
    assert {k: v for k, v in by_code(hours["villages"], world.v1).items() if k not in ("id", "code", "name")} == {
        "institutions": 1,
        "verified_hours": 0.0,
        "pending_hours": 0.0,
    }
    assert by_code(hours["villages"], world.v2)["verified_hours"] is None
    assert by_code(hours["grids"], world.g3)["verified_hours"] is None
    assert sorted(i["verified_hours"] is None for i in hours["institutions"]) == [False, False, True]

    # attention: V1 (ledger overdue, a report overdue, SLA 50%, quarterly contacts 66.7%), G2 (unpaired sentinel,
    # unpaired leader, a report overdue, SLA 0%), V2 (no steward, no resident signed), G3 (no sentinel, no team)
    ranked = [(a["rank"], a["name"], sorted(r["code"] for r in a["reasons"])) for a in f["attention"]]
    assert ranked == [
        (1, world.v1.name, ["contacts_low", "rectification_overdue", "reports_overdue", "sla_low"]),
        (2, world.g2.name, ["leader_unpaired", "reports_overdue", "sentinel_unpaired", "sla_low"]),
        (3, world.v2.name, ["no_steward", "signing_low"]),
        (4, world.g3.name, ["no_sentinel", "no_team"]),
    ]
    assert bulletin.source_counts == {
        "grid": 3,
        "village": 2,
        "sentinel": 2,
        "sentinel_report": 6,
        "resident": 4,
        "referral": 3,
        "rectification_item": 2,
        "social_work_case": 3,
        "social_work_transfer": 2,
        "volunteer_hours": 4,
    }
    assert "暂未上线" not in json.dumps(f, ensure_ascii=False)
    assert bulletin.definitions_version == figures.DEFINITIONS_VERSION


async def test_a_period_produced_twice_is_one_bulletin_that_never_changes(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    first = await town_bulletin(db, world)
    before = (first.id, first.content_hash, json.dumps(first.figures, sort_keys=True))
    await _report(
        db, world.g1, world.v1, world.town, world.team_a, world.supervisor, category="other", submitted_at=cn(3, 3)
    )  # data corrected afterwards: the stored bulletin does not move
    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    again, made = await service.produce_town(db, town, H1)
    assert not made
    assert (again.id, again.content_hash, json.dumps(again.figures, sort_keys=True)) == before
    assert await service.count_editions(db, SnapshotKind.TOWN, world.town.id, "2026H1") == 1


async def test_the_running_half_year_is_not_produced_only_drafted(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    clock.freeze(cn(5, 1))
    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    with pytest.raises(Exception, match="has not ended"):
        await service.produce_town(db, town, H1)
    draft = await service.draft(db, town, H1)
    assert draft["figures"]["as_of"] == cn(5, 1).astimezone(UTC).isoformat()
    # as of 1 May, r3 had just been submitted and G2 was already B's
    assert draft["figures"]["sections"]["reports"]["town"]["reports"] == 4


async def test_a_snapshot_content_cannot_be_updated_in_the_database(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    with pytest.raises(DBAPIError, match="immutable"):
        async with db.begin_nested():
            await db.execute(update(Bulletin).where(Bulletin.id == bulletin.id).values(figures={"forged": True}))


async def test_a_correction_is_edition_2_and_edition_1_stays_readable(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    first = await town_bulletin(db, world)
    supervisor = await principal(db, world.supervisor, Role.TOWN_SUPERVISOR)
    path = world.town.path
    # nothing changed: no correction
    with pytest.raises(NoChange):
        await service.correct(db, supervisor, first, path, reason="复核", expected_version=first.version)
    # a report of March entered late: the correction counts it
    await _report(
        db, world.g3, world.v2, world.town, world.team_a, world.supervisor, category="other", submitted_at=cn(3, 3)
    )
    second = await service.correct(db, supervisor, first, path, reason="补录三月上报", expected_version=first.version)
    assert (second.edition, second.supersedes_id, second.correction_reason) == (2, first.id, "补录三月上报")
    assert second.figures["sections"]["reports"]["town"]["reports"] == 7
    assert second.content_hash != first.content_hash
    old = await db.get(Bulletin, first.id)
    assert old is not None
    assert old.status == "superseded"
    assert old.figures["sections"]["reports"]["town"]["reports"] == 6  # edition 1 as it was
    assert [b.edition for b in await service.editions(db, second)] == [1, 2]
    with pytest.raises(IllegalTransition):  # only the newest edition is corrected
        await service.correct(db, supervisor, old, path, reason="again", expected_version=old.version)


async def test_the_hash_changes_with_the_content_and_only_with_it(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    content = service.content("town", world.town.id, "2026H1", bulletin.figures, bulletin.source_counts)
    assert bulletin.content_hash == content_hash(content)
    canonical = halves.canonical(content)
    assert b" " not in canonical.replace("暂未上线".encode(), b"")[:200]
    assert "龙溪街道".encode() in canonical
    # key order does not matter, any changed value does
    reordered = json.loads(json.dumps(content), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert content_hash(reordered) == bulletin.content_hash
    changed = json.loads(json.dumps(content))
    changed["figures"]["sections"]["reports"]["town"]["overdue"] += 1
    assert content_hash(changed) != bulletin.content_hash
    # a report outside the half year changes nothing in it: a correction is refused
    await _report(
        db, world.g1, world.v1, world.town, world.team_a, world.supervisor, category="other", submitted_at=cn(7, 1, 9)
    )
    supervisor = await principal(db, world.supervisor, Role.TOWN_SUPERVISOR)
    with pytest.raises(NoChange):
        await service.correct(db, supervisor, bulletin, world.town.path, reason="复核", expected_version=1)


async def test_the_rollup_waits_for_the_last_town_and_tells_the_commission(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    district = await db.get(OrgUnit, world.district.id)
    town = await db.get(OrgUnit, world.town.id)
    other = await db.get(OrgUnit, world.other_town.id)
    assert district is not None
    assert town is not None
    assert other is not None
    first, _ = await service.produce_town(db, town, H1)
    second, _ = await service.produce_town(db, other, H1)
    rollup, ready = await service.maybe_rollup(db, district, H1)
    assert rollup is None
    assert [t.id for t in ready.missing] == [town.id, other.id]
    await service.issue(
        db,
        await principal(db, world.supervisor, Role.TOWN_SUPERVISOR),
        first,
        town.path,
        expected_version=first.version,
    )
    rollup, ready = await service.maybe_rollup(db, district, H1)
    assert rollup is None
    assert [t.name for t in ready.missing] == [other.name]
    await service.issue(
        db,
        await principal(db, world.other_supervisor, Role.TOWN_SUPERVISOR),
        second,
        other.path,
        expected_version=second.version,
    )
    rollup = await service.latest(db, SnapshotKind.DISTRICT, district.id, "2026H1")
    assert rollup is not None  # issuing the last town's bulletin made it
    towns = rollup.figures["towns"]
    assert {t["bulletin"]["id"]: t["bulletin"]["content_hash"] for t in towns} == {
        str(first.id): first.content_hash,
        str(second.id): second.content_hash,
    }
    assert [t["rank"] for t in towns] == [1, 2]
    told = await db.scalars(select(Notification.user_id).where(Notification.subject_id == rollup.id))
    assert list(told) == [world.commission.id]
    again, _ = await service.maybe_rollup(db, district, H1)
    assert again is not None
    assert again.id == rollup.id


async def test_issuing_tells_the_supervisors_the_stewards_and_the_commission_once(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    supervisor = await principal(db, world.supervisor, Role.TOWN_SUPERVISOR)
    await service.issue(db, supervisor, bulletin, world.town.path, expected_version=bulletin.version)
    rows = (
        await db.execute(
            select(Notification.user_id, Notification.title, Notification.body).where(
                Notification.subject_id == bulletin.id
            )
        )
    ).all()
    assert {r[0] for r in rows} == {world.supervisor.id, world.steward.id, world.commission.id}
    assert all("龙溪街道2026年上半年督导通报已印发" == r[1] for r in rows)
    assert all(str(bulletin.id) not in r[2] for r in rows)
    from services.core.supervision import messages

    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    assert await messages.bulletin_issued(db, bulletin, town) == []  # once per bulletin and recipient
    with pytest.raises(IllegalTransition):
        await service.issue(db, supervisor, bulletin, world.town.path, expected_version=bulletin.version)


async def test_the_assessment_scores_and_ranks_each_team_with_its_work_days(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    district = await db.get(OrgUnit, world.district.id)
    assert district is not None
    assessment, made = await service.produce_assessment(db, district, H1)
    assert made
    teams = {t["team"]["name"]: t for t in assessment.figures["teams"]}
    a = {i["indicator"]: i for i in teams[world.team_a.name]["indicators"]}
    # team A: G1 at the end of June (res1 signed, res2 not): 1/2; Q1+Q2 for res1: 1/2; reports r1, r2, r4,
    # r7 live (r5 cancelled): due r1, r2, r7, within r1, r7; reported in r1, r2, r7 of 4; no downward referral
    # is A's... the two downward referrals went to A: one followed up within 48 h of discharge.
    assert a["signing_coverage"]["actual"] == 0.5
    assert a["contact_duty_share"]["actual"] == 0.5
    assert a["sla_share"]["actual"] == 0.6667
    assert a["reports_handled_share"]["actual"] == 0.75
    assert a["referrals_handled_share"]["actual"] == 0.5
    # work days: A held them in January, March and June: 3 of the half year's 6 months
    assert a["team_work_days"] == {
        "indicator": "team_work_days",
        "actual": 0.5,
        "target": 1.0,
        "weight": 10.0,
        "points": 5.0,
        "status": "ok",
    }
    # points: 25·0.5/0.6 + 20·0.5/0.9 + 20·0.6667/0.9 + 15·0.75/0.95 + 10·0.5/1 + 10·0.5/0.9, over all 100
    expected = (
        25 * min(0.5 / 0.6, 1) + 20 * 0.5 / 0.9 + 20 * 0.6667 / 0.9 + 15 * 0.75 / 0.95 + 10 * 0.5 + 10 * 0.5 / 0.9
    )
    assert teams[world.team_a.name]["score"] == pytest.approx(expected, abs=0.05)
    b = {i["indicator"]: i for i in teams[world.team_b.name]["indicators"]}
    assert b["signing_coverage"]["actual"] == 1.0
    assert b["contact_duty_share"]["actual"] == 1.0
    assert b["sla_share"]["actual"] == 0.0
    assert b["team_work_days"]["actual"] == 0.0  # its only work day was in December 2025
    assert b["team_work_days"]["status"] == "ok"
    assert sorted(t["rank"] for t in teams.values()) == [1, 2]


async def test_a_provider_registered_later_fills_its_section(db: AsyncSession) -> None:
    world = await build_supervision_world(db)

    async def volunteer_hours(db: AsyncSession, unit: sections.Unit, window: sections.Window) -> dict[str, Any]:
        del db, window
        return {"town": {"hours": 12.5, "unit": unit.code}, "source_counts": {"volunteer_record": 3}}

    saved = sections.REGISTRY.sections["volunteers"].fn
    sections.register("volunteers", volunteer_hours)
    try:
        bulletin = await town_bulletin(db, world)
    finally:
        sections.REGISTRY.sections["volunteers"].fn = saved
    assert bulletin.figures["sections"]["volunteers"] == {
        "status": "ok",
        "town": {"hours": 12.5, "unit": world.town.code},
    }
    assert bulletin.source_counts["volunteer_record"] == 3


async def test_a_draft_at_the_first_instant_of_a_half_year_has_empty_figures_not_an_error(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    clock.freeze(halves.HalfYear(2026, 2).starts_at)  # the running half year has not begun to count
    f = (await service.draft(db, town, halves.HalfYear(2026, 2)))["figures"]
    social = f["sections"]["social_work"]
    assert (social["status"], social["town"]["cases_opened"], social["town"]["transfers_offered"]) == ("ok", 0, 0)
    assert f["sections"]["volunteers"]["town"]["verified_hours"] is None  # nothing logged in an empty window
    assessment = await provider_team_work_days(db, world)
    assert assessment == {world.team_a.id: None, world.team_b.id: None}  # no month of it begun: unjudged


async def provider_team_work_days(db: AsyncSession, world: SupervisionWorld) -> dict[Any, float | None]:
    from services.core.supervision import providers

    district = await db.get(OrgUnit, world.district.id)
    assert district is not None
    h2 = halves.HalfYear(2026, 2)
    window = sections.Window(h2, h2.starts_at)
    return await providers.team_work_days(db, service.unit_of(district), window, [world.team_a.id, world.team_b.id])


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            assert not (name in ("src", "href") and value and "//" in value), "nothing is fetched from elsewhere"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_the_printable_page_parses_and_its_svg_charts_are_valid_xml(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    district = await db.get(OrgUnit, world.district.id)
    assert district is not None
    assessment, _ = await service.produce_assessment(db, district, H1)
    for snapshot in (bulletin, assessment):
        page = outputs.page(snapshot)
        parser = _Collect()
        parser.feed(page)
        assert "table" in parser.tags
        assert "svg" in parser.tags
        assert "@page { size: A4" in page
        words = "".join(parser.text)
        assert "暂未上线" not in words  # every section and indicator is built now
        if snapshot.kind == "town":
            assert "龙溪街道2026年上半年家医网格督导通报" in words
            assert "需关注的村和网格" in words
        svgs = [page[i : page.index("</svg>", i) + 6] for i in range(len(page)) if page.startswith("<svg", i)]
        assert svgs
        for svg in svgs:
            root = ET.fromstring(svg)  # noqa: S314 - our own output
            assert root.tag == "{http://www.w3.org/2000/svg}svg"


async def test_the_workbook_opens_with_one_sheet_per_section(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await town_bulletin(db, world)
    book = load_workbook(io.BytesIO(outputs.workbook(bulletin)))
    assert book.sheetnames == [
        "封面",
        "哨兵配备与结对",
        "哨兵上报与家医报到",
        "签约覆盖与季度联系",
        "双向转诊",
        "整改问题台帐",
        "医务社工个案",
        "志愿服务时长",
        "较上半年变化",
        "需关注的村和网格",
    ]
    reports = book["哨兵上报与家医报到"]
    assert reports.cell(2, 1).value == "全镇(街道)"
    assert reports.cell(2, 2).value == world.town.name
    social = book["医务社工个案"]
    header = [c.value for c in social[1]]
    assert social.cell(2, 2).value == world.town.name
    assert social.cell(2, header.index("本期新开个案") + 1).value == 3
    hours = book["志愿服务时长"]
    header = [c.value for c in hours[1]]
    assert hours.cell(2, header.index("已审核志愿服务时长") + 1).value == 2.5
    assert "—" in [row[header.index("已审核志愿服务时长")] for row in hours.iter_rows(min_row=3, values_only=True)]
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(values_only=True)}
    assert cover["内容校验值 SHA-256"] == bulletin.content_hash


async def test_the_worker_sweep_finds_each_missing_snapshot_of_the_last_half_year(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    work = await service.due_work(db)
    assert ("town", world.town.id) in work
    assert ("town", world.other_town.id) in work
    assert ("assessment", world.district.id) in work
    assert ("rollup", world.district.id) in work
    for what, unit_id in work:
        await service.run_one(db, what, unit_id)
    left = await service.due_work(db)
    assert left == [("rollup", world.district.id)]  # waits for the towns to issue
    count = await db.scalar(select(func.count()).select_from(Bulletin))
    assert count == 3
    assert await db.scalar(text("select 1")) == 1


def test_the_lives_of_snapshots_and_ledger_items_are_these_tables() -> None:
    from services.core.supervision.lifecycle import DISTRICT_SNAPSHOT, ITEM, TOWN_BULLETIN

    live = ["draft", "issued", "acknowledged"]
    assert TOWN_BULLETIN.reference() == [
        {"action": "issue", "from": ["draft"], "to": "issued", "permission": "supervision:issue"},
        {"action": "supersede", "from": live, "to": "superseded", "permission": "supervision:issue"},
        {"action": "acknowledge", "from": ["issued"], "to": "acknowledged", "permission": "supervision:review"},
    ]
    assert DISTRICT_SNAPSHOT.reference() == [
        {"action": "issue", "from": ["draft"], "to": "issued", "permission": "supervision:review"},
        {"action": "supersede", "from": live, "to": "superseded", "permission": "supervision:review"},
    ]
    assert ITEM.reference() == [
        {"action": "create", "from": [None], "to": "open", "permission": "rectification:write"},
        {"action": "start", "from": ["open"], "to": "in_progress", "permission": "rectification:work"},
        {"action": "resolve", "from": ["open", "in_progress"], "to": "resolved", "permission": "rectification:work"},
        {"action": "verify", "from": ["resolved"], "to": "verified", "permission": "rectification:write"},
        {
            "action": "reopen",
            "from": ["resolved", "verified"],
            "to": "in_progress",
            "permission": "rectification:write",
        },
    ]


async def test_the_rollup_prints_and_opens_as_a_workbook(db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    district = await db.get(OrgUnit, world.district.id)
    assert district is not None
    for town_id in (world.town.id, world.other_town.id):
        town = await db.get(OrgUnit, town_id)
        assert town is not None
        bulletin, _ = await service.produce_town(db, town, H1)
        await db.execute(update(Bulletin).where(Bulletin.id == bulletin.id).values(status="issued"))
    rollup, _ = await service.maybe_rollup(db, district, H1)
    assert rollup is not None
    book = load_workbook(io.BytesIO(outputs.workbook(rollup)))
    assert book.sheetnames == ["封面", "镇街比较"]
    assert [c.value for c in book["镇街比较"][1]][:4] == ["排名", "镇(街道)", "综合得分", "需关注数"]
    page = outputs.page(rollup)
    _Collect().feed(page)
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314 - our own output
    assert "渝北区2026年上半年家医网格督导区级汇总" in page
