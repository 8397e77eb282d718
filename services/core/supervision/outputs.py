"""What people take away: a snapshot as an .xlsx (one sheet per section) and as a printable Chinese
HTML page (A4 print CSS, charts as inline SVG, nothing fetched from elsewhere). JSON is the API's."""

from __future__ import annotations

import io
from collections.abc import Sequence
from html import escape
from typing import Any

from openpyxl import Workbook

from services.core.supervision.models import Bulletin
from services.core.supervision.sections import REGISTRY

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Column titles of every figure a sheet or table may show.
TITLES: dict[str, str] = {
    "code": "代码",
    "name": "名称",
    "grids": "网格数",
    "grids_with_sentinel": "配备哨兵网格",
    "sentinel_coverage": "哨兵配备率",
    "sentinels": "哨兵数",
    "sentinels_paired": "已结对哨兵",
    "sentinel_pairing": "哨兵结对率",
    "grids_with_grid_leader": "有网格长网格",
    "grid_leaders_paired": "已结对网格长",
    "grid_leader_pairing": "网格长结对率",
    "grids_with_team": "有责任团队网格",
    "team_coverage": "团队覆盖率",
    "grids_whose_team_changed": "期间更换团队网格",
    "team": "期末责任团队",
    "teams_in_period": "期间责任团队",
    "has_community_steward": "有健康管家",
    "steward_paired": "管家已结对",
    "has_team_everywhere": "网格全覆盖",
    "reports": "上报数",
    "by_category": "分类",
    "median_hours_to_report_in": "报到中位时长(小时)",
    "median_hours_to_first_follow_up": "首次随访中位时长(小时)",
    "due": "应随访",
    "followed_up_within_sla": "按时随访",
    "sla_share": "按时随访率",
    "open": "未办结",
    "overdue": "逾期",
    "residents": "居民数",
    "signed": "签约数",
    "signing_coverage": "签约覆盖率",
    "quarters_judged": "考核季度数",
    "contact_duty_due": "应联系(人·季)",
    "contact_duty_met": "已联系(人·季)",
    "contact_duty_share": "季度联系履约率",
    "upward": "上转",
    "downward": "下转",
    "upward_decided": "上转已答复",
    "upward_accepted": "上转已接收",
    "acceptance_rate": "接收率",
    "downward_due": "下转应随访",
    "downward_followed_up_in_time": "下转按时随访",
    "downward_in_time_share": "下转按时随访率",
    "items": "整改问题",
    "verified_in_period": "本期销号",
    "cases_opened": "本期新开个案",
    "cases_active": "期末在案个案",
    "cases_closed": "本期结案",
    "non_resident_cases": "其中非本地居民个案",
    "by_service_area": "按服务领域(新开/在案/结案)",
    "transfers_offered": "出院转介",
    "transfers_accepted": "已回执接收",
    "transfers_followed_up_in_time": "按时随访",
    "transfers_follow_up_missed": "逾期未随访",
    "transfer_in_time_share": "转介按时随访率",
    "median_days_intake_to_plan": "建档至计划中位天数",
    "median_days_plan_to_closure": "计划至结案中位天数",
    "aid_applications": "救助申请",
    "aid_approved": "救助批准",
    "aid_amount_approved": "批准金额(元)",
    "institutions": "机构数",
    "verified_hours": "已审核志愿服务时长",
    "pending_hours": "待审核时长",
}
LEVELS = (("town", "全镇(街道)"), ("villages", "村(社区)"), ("grids", "网格"))
STATUS_ZH = {"draft": "草稿", "issued": "已印发", "acknowledged": "已签收", "superseded": "已被更正版取代"}


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "；".join(
            f"{k}:{'/'.join(map(str, v.values())) if isinstance(v, dict) else v}" for k, v in value.items()
        )
    if isinstance(value, list):
        return "；".join(
            f"{v.get('team')}({v.get('since', '')[:10]}起)" if isinstance(v, dict) else str(v) for v in value
        )
    return "—" if value is None else value


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        for key in row:
            if key not in seen and key != "id":
                seen.append(key)
    return seen


def _sheet_title(text: str) -> str:
    for ch in "[]:*?/\\":
        text = text.replace(ch, " ")
    return text[:31]


def workbook(bulletin: Bulletin) -> bytes:
    """The snapshot as .xlsx: a cover sheet, then one sheet per section (or per table of a roll-up/assessment)."""
    wb = Workbook()
    cover = wb.active
    assert cover is not None  # noqa: S101 - a new workbook has one sheet
    cover.title = "封面"
    for label, value in _cover(bulletin):
        cover.append([label, value])
    for title, header, rows in tables(bulletin):
        ws = wb.create_sheet(_sheet_title(title))
        ws.append(header)
        for values in rows:
            ws.append([_cell(v) for v in values])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cover(b: Bulletin) -> list[tuple[str, Any]]:
    f = b.figures
    return [
        ("名称", _heading(b)),
        ("期间", f.get("period_label_zh")),
        ("版本", b.edition),
        ("状态", STATUS_ZH.get(b.status, b.status)),
        ("统计口径版本", b.definitions_version),
        ("数据截至", f.get("as_of")),
        ("内容校验值 SHA-256", b.content_hash),
        ("更正原因", b.correction_reason or "—"),
        *[(f"源数据行数：{k}", v) for k, v in sorted(b.source_counts.items())],
    ]


def _heading(b: Bulletin) -> str:
    f = b.figures
    what = {"town": "家医网格督导通报", "district": "家医网格督导区级汇总", "assessment": "家庭医生团队考核"}[b.kind]
    return f"{f['unit']['name']}{f.get('period_label_zh', '')}{what}"


def tables(b: Bulletin) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Each table of the snapshot: (sheet title, header, rows). Shared by the workbook and the page."""
    f = b.figures
    out: list[tuple[str, list[str], list[list[Any]]]] = []
    if b.kind == "town":
        titles = f.get("section_titles", {})
        for name in f.get("section_order") or sorted(f["sections"]):
            section = f["sections"][name]
            title = titles.get(name, {}).get("zh") or (
                REGISTRY.sections[name].title_zh if name in REGISTRY.sections else name
            )
            if section.get("status") != "ok":
                out.append((title, ["说明"], [[section.get("note_zh", "暂未上线")]]))
                continue
            rows: list[dict[str, Any]] = [{"name": f["unit"]["name"], **section["town"]}]
            level_of = ["全镇(街道)"]
            for key, label in LEVELS[1:]:
                for row in section.get(key, []):
                    rows.append(row)
                    level_of.append(label)
            columns = [c for c in _columns(rows) if c != "pairings_coverage"]
            out.append(
                (
                    title,
                    ["层级", *[TITLES.get(c, c) for c in columns]],
                    [[lvl, *[row.get(c) for c in columns]] for lvl, row in zip(level_of, rows, strict=True)],
                )
            )
        changes = f.get("changes", {}).get("rows", [])
        out.append(
            (
                "较上半年变化",
                ["指标", "本期", "上期", "变化"],
                [[c["title_zh"], c["now"], c["before"], c["change"]] for c in changes],
            )
        )
        out.append(
            (
                "需关注的村和网格",
                ["排名", "层级", "名称", "所属村(社区)", "原因"],
                [
                    [
                        a["rank"],
                        "网格" if a["level"] == "grid" else "村(社区)",
                        a["name"],
                        a.get("village") or "—",
                        "；".join(r["text_zh"] for r in a["reasons"]),
                    ]
                    for a in f.get("attention", [])
                ],
            )
        )
    elif b.kind == "district":
        heads = f.get("headline_titles", [])
        out.append(
            (
                "镇街比较",
                ["排名", "镇(街道)", "综合得分", "需关注数", *[h["title_zh"] for h in heads], "通报版本", "通报校验值"],
                [
                    [
                        t["rank"],
                        t["town"]["name"],
                        t["score"],
                        t["attention"],
                        *[t["headline"].get(h["key"]) for h in heads],
                        t["bulletin"]["edition"],
                        t["bulletin"]["content_hash"],
                    ]
                    for t in f.get("towns", [])
                ],
            )
        )
    else:
        indicators = f.get("indicators", [])
        out.append(
            (
                "考核指标",
                ["指标", "目标值", "权重", "状态"],
                [
                    [i["title_zh"], i["target"], i["weight"], "正常" if i["status"] == "ok" else "暂未上线"]
                    for i in indicators
                ],
            )
        )
        out.append(
            (
                "团队排名",
                ["排名", "团队", "所属机构", "得分", *[i["title_zh"] for i in indicators]],
                [
                    [
                        t["rank"],
                        t["team"]["name"],
                        t["team"]["institution"],
                        t["score"],
                        *[_indicator(t, i["indicator"]) for i in indicators],
                    ]
                    for t in f.get("teams", [])
                ],
            )
        )
    return out


def _indicator(team: dict[str, Any], name: str) -> Any:
    for i in team["indicators"]:
        if i["indicator"] == name:
            return "暂未上线" if i["status"] != "ok" else i["actual"]
    return None


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]], *, percent: bool = True) -> str:
    """A horizontal bar chart as inline SVG (valid XML: every text escaped)."""
    width, row, left = 640, 22, 200
    height = 30 + row * max(len(bars), 1)
    top = max([v for _, v in bars if v is not None] or [1.0]) if not percent else 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = 26 + i * row
        length = 0 if value is None or top == 0 else int((width - left - 70) * min(value / top, 1.0))
        shown = "—" if value is None else (f"{value * 100:.1f}%" if percent else f"{value:g}")
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(label[:16])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{length}" height="14" fill="#2f6fb0"/>')
        parts.append(f'<text x="{left + length + 4}" y="{y + 14}" font-size="11">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(b: Bulletin) -> list[str]:
    """The page's charts: coverage per village, town scores, team scores."""
    f = b.figures
    if b.kind == "town":
        staffing = f["sections"].get("staffing", {})
        villages = staffing.get("villages", []) if staffing.get("status") == "ok" else []
        return [
            bar_chart("各村(社区)网格哨兵配备率", [(v["name"], v.get("sentinel_coverage")) for v in villages]),
            bar_chart("各村(社区)网格家医团队覆盖率", [(v["name"], v.get("team_coverage")) for v in villages]),
        ]
    if b.kind == "district":
        return [
            bar_chart("各镇街综合得分", [(t["town"]["name"], t["score"]) for t in f.get("towns", [])], percent=False)
        ]
    return [bar_chart("团队考核得分", [(t["team"]["name"], t["score"]) for t in f.get("teams", [])], percent=False)]


CSS = """
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 11pt; color: #111; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 6pt; }
h2 { font-size: 13pt; border-bottom: 1px solid #333; margin-top: 14pt; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #777; padding: 2pt 4pt; text-align: left; }
th { background: #eee; }
.meta { font-size: 9pt; color: #444; text-align: center; }
.notbuilt { color: #a00; }
figure { margin: 8pt 0; page-break-inside: avoid; }
@media print { a { color: inherit; text-decoration: none; } }
"""


def page(bulletin: Bulletin) -> str:
    """The printable Chinese page (A4), its charts inline SVG, no external resource."""
    b = bulletin
    head = escape(_heading(b))
    meta = (
        f"版本 {b.edition} · {escape(STATUS_ZH.get(b.status, b.status))} · 统计口径 {escape(b.definitions_version)}"
        f" · 数据截至 {escape(str(b.figures.get('as_of', ''))[:10])} · SHA-256 {escape(b.content_hash[:16])}…"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8"/>',
        f"<title>{head}</title><style>{CSS}</style></head><body>",
        f"<h1>{head}</h1>",
        f'<p class="meta">{meta}</p>',
    ]
    if b.correction_reason:
        parts.append(f"<p>更正原因：{escape(b.correction_reason)}</p>")
    parts += [f"<figure>{svg}</figure>" for svg in charts(b)]
    for title, header, rows in tables(b):
        parts.append(f"<h2>{escape(title)}</h2>")
        if header == ["说明"]:
            parts.append(f'<p class="notbuilt">{escape(str(rows[0][0]))}</p>')
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(str(_cell(v)))}</td>" for v in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)
