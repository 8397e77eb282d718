"""The roster workbook: its layout, and reading and writing it with openpyxl.

Five sheets, Chinese headers a town office fills by hand (columns are found by their
header, so their order does not matter; a ``说明`` sheet and any other sheet are ignored):

- 网格: 镇街编码, 镇街名称, 村(社区)编码, 村(社区)名称, 村/社区, 网格编码, 网格名称
  (one row per grid; a village without grids is a row with the grid columns empty)
- 机构: 机构名称, 机构类别, 统一社会信用代码, 所在区/镇街编码, 家医管家姓名, 家医管家手机, 家医管家专业
- 团队: 团队名称, 所属机构信用代码, 团队类别, 层级, 服务电话, 负责村(社区)/网格编码
  (codes separated by 、 , ; or spaces)
- 团队成员: 团队名称, 所属机构信用代码, 姓名, 手机, 专业, 团队长/成员
- 网格人员: 村(社区)/网格编码, 角色, 姓名, 手机, 结对人手机

People are identified by their mobile number within the district. Reading checks each
cell on its own (formats, enumerations, check characters); the importer checks the rest.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from services.core.assignments.models import CommunityRoleKind
from services.core.errors import ValidationFailed
from services.core.org.codes import code_problem
from services.core.org.models import OrgUnitKind
from services.core.teams import validation
from services.core.teams.models import Discipline, InstitutionKind, MemberRole, TeamKind, TeamLevel

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS_PER_SHEET = 100_000

GRIDS = "网格"
INSTITUTIONS = "机构"
TEAMS = "团队"
MEMBERS = "团队成员"
COMMUNITY = "网格人员"

HEADERS: dict[str, tuple[str, ...]] = {
    GRIDS: ("镇街编码", "镇街名称", "村(社区)编码", "村(社区)名称", "村/社区", "网格编码", "网格名称"),
    INSTITUTIONS: (
        "机构名称",
        "机构类别",
        "统一社会信用代码",
        "所在区/镇街编码",
        "家医管家姓名",
        "家医管家手机",
        "家医管家专业",
    ),
    TEAMS: ("团队名称", "所属机构信用代码", "团队类别", "层级", "服务电话", "负责村(社区)/网格编码"),
    MEMBERS: ("团队名称", "所属机构信用代码", "姓名", "手机", "专业", "团队长/成员"),
    COMMUNITY: ("村(社区)/网格编码", "角色", "姓名", "手机", "结对人手机"),
}

INSTITUTION_KINDS = {
    "区级综合医院": InstitutionKind.DISTRICT_HOSPITAL,
    "中医院": InstitutionKind.TCM_HOSPITAL,
    "妇幼保健院": InstitutionKind.MATERNAL_CHILD,
    "疾控中心": InstitutionKind.CDC,
    "镇卫生院": InstitutionKind.TOWNSHIP_HEALTH_CENTER,
    "社区卫生服务中心": InstitutionKind.COMMUNITY_HEALTH_CENTER,
    "社会办诊所": InstitutionKind.SOCIAL_CLINIC,
    "护理站": InstitutionKind.NURSING_STATION,
}
TEAM_KINDS = {
    "基层家医团队": TeamKind.PRIMARY,
    "慢病管理服务部": TeamKind.CHRONIC_DISEASE,
    "中医养生服务部": TeamKind.TCM_WELLNESS,
    "妇幼健康服务部": TeamKind.MATERNAL_CHILD,
    "特色专科服务部": TeamKind.SPECIALIST,
}
TEAM_LEVELS = {"区级": TeamLevel.DISTRICT, "镇街级": TeamLevel.TOWN, "村级": TeamLevel.VILLAGE}
DISCIPLINES = {
    "医生": Discipline.DOCTOR,
    "护士": Discipline.NURSE,
    "公卫人员": Discipline.PUBLIC_HEALTH,
    "药师": Discipline.PHARMACIST,
    "康复": Discipline.REHABILITATION,
    "其他": Discipline.OTHER,
}
MEMBER_ROLES = {"团队长": MemberRole.LEADER, "成员": MemberRole.MEMBER}
COMMUNITY_ROLES = {
    "社区健康管家": CommunityRoleKind.COMMUNITY_STEWARD,
    "网格长": CommunityRoleKind.GRID_LEADER,
    "健康哨兵": CommunityRoleKind.SENTINEL,
}
VILLAGE_CATEGORIES = {"村": "village", "社区": "community"}

_SPLIT = re.compile(r"[、,，;；\s]+")
_PHONE = re.compile(r"^[0-9+\- ]{3,20}$")


def label(mapping: dict[str, Any], value: Any) -> str:
    """The Chinese label of an enum value."""
    return next(k for k, v in mapping.items() if v == value)


@dataclass(frozen=True)
class CellError:
    sheet: str
    row: int
    column: str
    message: str

    def as_problem(self) -> dict[str, Any]:
        return {
            "field": f"{self.sheet}!{self.column}{self.row}" if self.row else self.sheet,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


class RosterInvalid(ValidationFailed):
    """The workbook has problems; ``errors`` lists every one ({sheet, row, column, message})."""

    def __init__(self, problems: list[CellError]) -> None:
        ordered = sorted(
            set(problems), key=lambda e: (list(HEADERS).index(e.sheet) if e.sheet in HEADERS else 9, e.row)
        )
        super().__init__(
            f"the roster has {len(ordered)} problem(s); nothing was changed",
            errors=[e.as_problem() for e in ordered],
        )


@dataclass
class GridRow:
    row: int
    town_code: str
    town_name: str
    village_code: str
    village_name: str
    village_category: str  # village | community
    grid_code: str | None
    grid_name: str | None


@dataclass
class InstitutionRow:
    row: int
    name: str
    kind: InstitutionKind
    credit_code: str
    unit_code: str
    steward_name: str | None
    steward_mobile: str | None
    steward_discipline: Discipline


@dataclass
class TeamRow:
    row: int
    name: str
    credit_code: str
    kind: TeamKind
    level: TeamLevel
    service_phone: str | None
    areas: list[str]


@dataclass
class MemberRow:
    row: int
    team_name: str
    credit_code: str
    name: str
    mobile: str
    discipline: Discipline
    role: MemberRole


@dataclass
class CommunityRow:
    row: int
    unit_code: str
    role: CommunityRoleKind
    name: str
    mobile: str
    paired_mobile: str | None


@dataclass
class Roster:
    grids: list[GridRow] = field(default_factory=list)
    institutions: list[InstitutionRow] = field(default_factory=list)
    teams: list[TeamRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    community: list[CommunityRow] = field(default_factory=list)


# --- writing ------------------------------------------------------------------------------


def write(roster: Roster, *, title: str) -> bytes:
    """The workbook as .xlsx bytes, with a 说明 sheet first."""
    wb = Workbook(write_only=True)
    notes = wb.create_sheet("说明")
    notes.column_dimensions["A"].width = 100
    for line in (
        f'家医网格"双向赋能"成员明细表 — {title}',
        "每年7月10日前报送。人员以手机号识别(全区唯一)。",
        "导入时逐行检查,有任何错误则整份不导入,并列出全部错误;重复导入同一文件不产生任何变化。",
        "文件中没有的现有记录不会被删除或终止(导入结果中列为“文件中未列出”),请通过系统调整。",
        "机构类别: " + "、".join(INSTITUTION_KINDS),
        "团队类别: " + "、".join(TEAM_KINDS) + ";层级: " + "、".join(TEAM_LEVELS),
        "专业: " + "、".join(DISCIPLINES) + ";网格人员角色: " + "、".join(COMMUNITY_ROLES),
        "结对人手机: 健康哨兵填结对的家医团队成员;网格长、社区健康管家可留空(自动与团队长、机构家医管家结对)。",
    ):
        notes.append([line])
    rows: dict[str, Iterable[tuple[Any, ...]]] = {
        GRIDS: (
            (
                g.town_code,
                g.town_name,
                g.village_code,
                g.village_name,
                label(VILLAGE_CATEGORIES, g.village_category),
                g.grid_code,
                g.grid_name,
            )
            for g in roster.grids
        ),
        INSTITUTIONS: (
            (
                i.name,
                label(INSTITUTION_KINDS, i.kind),
                i.credit_code,
                i.unit_code,
                i.steward_name,
                i.steward_mobile,
                label(DISCIPLINES, i.steward_discipline) if i.steward_mobile else None,
            )
            for i in roster.institutions
        ),
        TEAMS: (
            (
                t.name,
                t.credit_code,
                label(TEAM_KINDS, t.kind),
                label(TEAM_LEVELS, t.level),
                t.service_phone,
                "、".join(t.areas) or None,
            )
            for t in roster.teams
        ),
        MEMBERS: (
            (
                m.team_name,
                m.credit_code,
                m.name,
                m.mobile,
                label(DISCIPLINES, m.discipline),
                label(MEMBER_ROLES, m.role),
            )
            for m in roster.members
        ),
        COMMUNITY: (
            (c.unit_code, label(COMMUNITY_ROLES, c.role), c.name, c.mobile, c.paired_mobile) for c in roster.community
        ),
    }
    bold = Font(bold=True)
    for sheet, headers in HEADERS.items():
        ws = wb.create_sheet(sheet)
        for index, header in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(index)].width = max(12, len(header) * 2 + 4)
        ws.freeze_panes = "A2"
        ws.append([_header_cell(ws, h, bold) for h in headers])
        for row in rows[sheet]:
            ws.append(list(row))  # strings: codes and phones keep every digit
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _header_cell(ws: Any, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.font = font
    return cell


# --- reading ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell as stripped text; numbers typed into text columns come back as digits."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


class _Sheet:
    """Rows of one sheet as dicts by header, collecting cell problems as it goes."""

    def __init__(self, name: str, errors: list[CellError]) -> None:
        self.name = name
        self.errors = errors
        self.columns: dict[str, str] = {}

    def error(self, row: int, header: str, message: str) -> None:
        self.errors.append(CellError(self.name, row, self.columns.get(header, ""), message))

    def required(self, row: int, values: dict[str, str | None], header: str) -> str | None:
        value = values.get(header)
        if value is None:
            self.error(row, header, f"{header}必填")
        return value

    def choice(self, row: int, values: dict[str, str | None], header: str, options: dict[str, Any]) -> Any:
        value = self.required(row, values, header)
        if value is None:
            return None
        if value not in options:
            self.error(row, header, f"“{value}”不是有效的{header},应为: {'、'.join(options)}")
            return None
        return options[value]

    def mobile(self, row: int, values: dict[str, str | None], header: str, *, required: bool = True) -> str | None:
        value = self.required(row, values, header) if required else values.get(header)
        if value is None:
            return None
        try:
            return validation.mobile(value)
        except ValidationFailed:
            self.error(row, header, f"“{value}”不是有效的手机号(11位,13-19开头)")
            return None

    def code(
        self, row: int, values: dict[str, str | None], header: str, kind: OrgUnitKind, parent: str | None
    ) -> str | None:
        value = self.required(row, values, header)
        if value is None:
            return None
        problem = code_problem(kind, value, parent) if parent or kind is OrgUnitKind.DISTRICT else None
        if problem is None and not (value.isascii() and value.isdigit()):
            problem = "编码只能是数字"
        if problem:
            self.error(row, header, f"编码“{value}”有误: {problem}")
            return None
        return value


def _rows(wb: Any, name: str, errors: list[CellError]) -> tuple[_Sheet, list[tuple[int, dict[str, str | None]]]]:
    sheet = _Sheet(name, errors)
    if name not in wb.sheetnames:
        errors.append(CellError(name, 0, "", f"缺少工作表“{name}”"))
        return sheet, []
    ws = wb[name]
    iterator = ws.iter_rows(values_only=True)
    header_row = next(iterator, None) or ()
    index: dict[str, int] = {}
    for i, value in enumerate(header_row):
        text = _text(value)
        if text in HEADERS[name]:
            index[text] = i
            sheet.columns[text] = get_column_letter(i + 1)
    missing = [h for h in HEADERS[name] if h not in index]
    if missing:
        errors.append(CellError(name, 1, "", f"缺少列: {'、'.join(missing)}"))
        return sheet, []
    out = []
    for number, values in enumerate(iterator, start=2):
        if number > MAX_ROWS_PER_SHEET + 1:
            errors.append(CellError(name, number, "", f"每个工作表最多 {MAX_ROWS_PER_SHEET} 行"))
            break
        row = {h: _text(values[i]) if i < len(values) else None for h, i in index.items()}
        if any(v is not None for v in row.values()):
            out.append((number, row))
    return sheet, out


def read(content: bytes) -> tuple[Roster, list[CellError]]:
    """Parse the workbook; every cell-level problem is returned, none raised."""
    errors: list[CellError] = []
    roster = Roster()
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        return roster, [CellError("", 0, "", f"不是有效的 .xlsx 文件: {type(exc).__name__}")]
    try:
        _read_grids(wb, roster, errors)
        _read_institutions(wb, roster, errors)
        _read_teams(wb, roster, errors)
        _read_members(wb, roster, errors)
        _read_community(wb, roster, errors)
    finally:
        wb.close()
    return roster, errors


def _read_grids(wb: Any, roster: Roster, errors: list[CellError]) -> None:
    sheet, rows = _rows(wb, GRIDS, errors)
    for n, v in rows:
        town = sheet.code(n, v, "镇街编码", OrgUnitKind.TOWN, None)
        if town is not None and (len(town) != 12 or town.endswith("000") is False):
            sheet.error(n, "镇街编码", f"编码“{town}”有误: 镇街编码为12位,以000结尾")
            town = None
        village = (
            sheet.code(n, v, "村(社区)编码", OrgUnitKind.VILLAGE, town)
            if town
            else sheet.required(n, v, "村(社区)编码")
        )
        village_name = sheet.required(n, v, "村(社区)名称")
        category = sheet.choice(n, v, "村/社区", VILLAGE_CATEGORIES)
        grid_code = v.get("网格编码")
        grid_name = v.get("网格名称")
        if grid_code is not None or grid_name is not None:
            grid_code = sheet.code(n, v, "网格编码", OrgUnitKind.GRID, village) if village else None
            grid_name = sheet.required(n, v, "网格名称")
        if town and village and village_name and category and (v.get("网格编码") is None or (grid_code and grid_name)):
            roster.grids.append(
                GridRow(n, town, v.get("镇街名称") or "", village, village_name, category, grid_code, grid_name)
            )
        for header in ("村(社区)名称", "网格名称"):
            if (v.get(header) or "") and len(v.get(header) or "") > 100:
                sheet.error(n, header, "名称最长100字")


def _credit(sheet: _Sheet, n: int, v: dict[str, str | None], header: str) -> str | None:
    value = sheet.required(n, v, header)
    if value is None:
        return None
    try:
        return validation.credit_code(value)
    except ValidationFailed:
        sheet.error(n, header, f"“{value}”不是有效的统一社会信用代码(GB 32100,18位,末位校验码)")
        return None


def _read_institutions(wb: Any, roster: Roster, errors: list[CellError]) -> None:
    sheet, rows = _rows(wb, INSTITUTIONS, errors)
    for n, v in rows:
        name = sheet.required(n, v, "机构名称")
        kind = sheet.choice(n, v, "机构类别", INSTITUTION_KINDS)
        code = _credit(sheet, n, v, "统一社会信用代码")
        unit = sheet.required(n, v, "所在区/镇街编码")
        if unit is not None and not (unit.isascii() and unit.isdigit() and len(unit) in (6, 12)):
            sheet.error(n, "所在区/镇街编码", f"“{unit}”应为6位区县编码或12位镇街编码")
            unit = None
        steward_name = v.get("家医管家姓名")
        steward_mobile = sheet.mobile(n, v, "家医管家手机", required=steward_name is not None)
        if steward_mobile and not steward_name:
            sheet.error(n, "家医管家姓名", "填写了家医管家手机,也请填写姓名")
        discipline = DISCIPLINES["其他"]
        if v.get("家医管家专业") is not None:
            discipline = sheet.choice(n, v, "家医管家专业", DISCIPLINES)
        if name and kind and code and unit and discipline and (steward_name is None or steward_mobile):
            roster.institutions.append(
                InstitutionRow(n, name, kind, code, unit, steward_name, steward_mobile, discipline)
            )


def _read_teams(wb: Any, roster: Roster, errors: list[CellError]) -> None:
    sheet, rows = _rows(wb, TEAMS, errors)
    for n, v in rows:
        name = sheet.required(n, v, "团队名称")
        code = _credit(sheet, n, v, "所属机构信用代码")
        kind = sheet.choice(n, v, "团队类别", TEAM_KINDS)
        level = sheet.choice(n, v, "层级", TEAM_LEVELS)
        phone = v.get("服务电话")
        if phone is not None and not _PHONE.match(phone):
            sheet.error(n, "服务电话", f"“{phone}”不是有效的电话号码")
            phone = None
        areas = [a for a in _SPLIT.split(v.get("负责村(社区)/网格编码") or "") if a]
        bad = [a for a in areas if not (a.isascii() and a.isdigit() and len(a) in (12, 15))]
        if bad:
            sheet.error(n, "负责村(社区)/网格编码", f"编码有误: {'、'.join(bad)}(村/社区12位,网格15位)")
        if kind is not None and kind is not TeamKind.PRIMARY and level not in (None, TeamLevel.DISTRICT):
            sheet.error(n, "层级", "精品家医四大部为区级团队")
        if name and code and kind and level and not bad and (v.get("服务电话") is None or phone):
            roster.teams.append(TeamRow(n, name, code, kind, level, phone, areas))


def _read_members(wb: Any, roster: Roster, errors: list[CellError]) -> None:
    sheet, rows = _rows(wb, MEMBERS, errors)
    for n, v in rows:
        team = sheet.required(n, v, "团队名称")
        code = _credit(sheet, n, v, "所属机构信用代码")
        name = sheet.required(n, v, "姓名")
        mobile = sheet.mobile(n, v, "手机")
        discipline = sheet.choice(n, v, "专业", DISCIPLINES)
        role = sheet.choice(n, v, "团队长/成员", MEMBER_ROLES)
        if team and code and name and mobile and discipline and role:
            roster.members.append(MemberRow(n, team, code, name, mobile, discipline, role))


def _read_community(wb: Any, roster: Roster, errors: list[CellError]) -> None:
    sheet, rows = _rows(wb, COMMUNITY, errors)
    for n, v in rows:
        code = sheet.required(n, v, "村(社区)/网格编码")
        role = sheet.choice(n, v, "角色", COMMUNITY_ROLES)
        name = sheet.required(n, v, "姓名")
        mobile = sheet.mobile(n, v, "手机")
        paired = sheet.mobile(n, v, "结对人手机", required=False)
        if code is not None and role is not None:
            want = 12 if role is CommunityRoleKind.COMMUNITY_STEWARD else 15
            if not (code.isascii() and code.isdigit() and len(code) == want):
                where = "村(社区)12位编码" if want == 12 else "网格15位编码"
                sheet.error(n, "村(社区)/网格编码", f"{label(COMMUNITY_ROLES, role)}填写{where},而不是“{code}”")
                code = None
        if code and role and name and mobile and (v.get("结对人手机") is None or paired):
            roster.community.append(CommunityRow(n, code, role, name, mobile, paired))
