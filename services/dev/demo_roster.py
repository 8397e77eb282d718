"""The demo district's roster, generated (deterministic) and imported like any town's file.

Six of Yubei's towns and subdistricts, four villages/communities each (codes extend the
town's), 60 grids; the five district-level institutions with the "four departments"
teams; a health centre per town with two primary teams; a community steward per village,
a grid leader and sentinels per grid, paired. Gaps on purpose (the coverage-gap report
has something to show): 龙兴镇's fourth village has no community steward, its last grid
no team; 统景镇's first grid has no sentinel; one sentinel in 大盛镇 is unpaired.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum.cn import uscc

from services.core.assignments.models import CommunityRoleKind
from services.core.roster.workbook import (
    CommunityRow,
    GridRow,
    InstitutionRow,
    MemberRow,
    Roster,
    TeamRow,
)
from services.core.teams.models import Discipline, InstitutionKind, MemberRole, TeamKind, TeamLevel

DISTRICT_CODE = "500112"
DEMO_TOWNS = ("500112002", "500112004", "500112016", "500112131", "500112133", "500112143")

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力林琳鹏飞宇浩然婷雪梅兵国庆"
_PLACES = (
    "桂花 龙湖 金竹 石坝 双河 青岗 柏林 高峰 白鹤 新街 长岭 松树 "
    "响水 黄桷 清溪 凉水 大石 官山 宝华 玉屏 天堂 花果 红岩 回龙"
)
_NUMERALS = "一二三四五六七八九十"


@dataclass
class _Names:
    n: int = 0

    def person(self) -> tuple[str, str]:
        """A made-up name and a made-up mobile, both deterministic."""
        self.n += 1
        i = self.n
        name = _SURNAMES[(i * 7) % len(_SURNAMES)] + _GIVEN[(i * 13) % len(_GIVEN)]
        if i % 3 == 0:
            name += _GIVEN[(i * 5 + 3) % len(_GIVEN)]
        return name, f"139{i:08d}"


def credit_code(n: int) -> str:
    """A made-up but valid unified social credit code (a public institution, 事业单位, in 500112)."""
    base = f"12{DISTRICT_CODE}{n:09d}"
    return base + uscc.calc_check_digit(base)


def demo_roster(town_names: dict[str, str]) -> Roster:
    """The demo district's roster; ``town_names`` maps 9-digit town codes to names."""
    r = Roster()
    names = _Names()
    places = _PLACES.split()
    district_institutions = (
        ("区人民医院", InstitutionKind.DISTRICT_HOSPITAL, TeamKind.CHRONIC_DISEASE),
        ("区中医院", InstitutionKind.TCM_HOSPITAL, TeamKind.TCM_WELLNESS),
        ("区妇幼保健院", InstitutionKind.MATERNAL_CHILD, TeamKind.MATERNAL_CHILD),
        ("区疾控中心", InstitutionKind.CDC, None),
        ("区第二人民医院", InstitutionKind.DISTRICT_HOSPITAL, TeamKind.SPECIALIST),
    )
    department = {
        TeamKind.CHRONIC_DISEASE: "慢病管理服务部",
        TeamKind.TCM_WELLNESS: "中医养生服务部",
        TeamKind.MATERNAL_CHILD: "妇幼健康服务部",
        TeamKind.SPECIALIST: "特色专科服务部",
    }
    for n, (name, kind, team_kind) in enumerate(district_institutions, start=1):
        code = credit_code(n)
        steward, mobile = names.person()
        r.institutions.append(
            InstitutionRow(0, f"渝北{name}", kind, code, DISTRICT_CODE, steward, mobile, Discipline.DOCTOR)
        )
        if team_kind is not None:
            phone = f"023-6780{n:04d}"
            r.teams.append(TeamRow(0, department[team_kind], code, team_kind, TeamLevel.DISTRICT, phone, []))
            for i, discipline in enumerate((Discipline.DOCTOR, Discipline.DOCTOR, Discipline.NURSE)):
                person, phone = names.person()
                role = MemberRole.LEADER if i == 0 else MemberRole.MEMBER
                r.members.append(MemberRow(0, department[team_kind], code, person, phone, discipline, role))

    for t, town9 in enumerate(DEMO_TOWNS):
        town_code, town_name = town9 + "000", town_names[town9]
        subdistrict = town_name.endswith("街道")
        short = town_name.removesuffix("街道").removesuffix("镇")
        centre = f"{short}{'社区卫生服务中心' if subdistrict else '镇卫生院'}"
        kind = InstitutionKind.COMMUNITY_HEALTH_CENTER if subdistrict else InstitutionKind.TOWNSHIP_HEALTH_CENTER
        code = credit_code(100 + t)
        steward, steward_mobile = names.person()
        r.institutions.append(
            InstitutionRow(0, centre, kind, code, town_code, steward, steward_mobile, Discipline.PUBLIC_HEALTH)
        )
        villages: list[tuple[str, list[str]]] = []
        for v in range(4):
            village_code = f"{town9}{v + 1:03d}"
            village_name = places[(t * 4 + v) % len(places)] + ("社区" if subdistrict else "村")
            grid_count = 3 if subdistrict else 2
            grids = [f"{village_code}{g + 1:03d}" for g in range(grid_count)]
            for g, grid_code in enumerate(grids):
                category = "community" if subdistrict else "village"
                r.grids.append(
                    GridRow(
                        0,
                        town_code,
                        town_name,
                        village_code,
                        village_name,
                        category,
                        grid_code,
                        f"第{_NUMERALS[g]}网格",
                    )
                )
            villages.append((village_code, grids))
        team_members: list[list[str]] = []
        for k in range(2):
            team_name = f"{short}家医{_NUMERALS[k]}团队"
            mine = villages[2 * k : 2 * k + 2]
            areas = [v for v, _ in mine]
            if t == 3 and k == 1:  # 龙兴镇: the last village's grids are assigned one by one, the last left out
                areas = [mine[0][0], *mine[1][1][:-1]]
            r.teams.append(
                TeamRow(0, team_name, code, TeamKind.PRIMARY, TeamLevel.VILLAGE, f"023-6781{t}{k}0{k}", areas)
            )
            mobiles = []
            staffing = (Discipline.DOCTOR, Discipline.DOCTOR, Discipline.NURSE, Discipline.PUBLIC_HEALTH)
            for i, discipline in enumerate(staffing):
                person, phone = names.person()
                role = MemberRole.LEADER if i == 0 else MemberRole.MEMBER
                r.members.append(MemberRow(0, team_name, code, person, phone, discipline, role))
                mobiles.append(phone)
            team_members.append(mobiles)
        for v, (village_code, grids) in enumerate(villages):
            if not (t == 3 and v == 3):  # 龙兴镇's fourth village: no community steward yet
                person, phone = names.person()
                steward_role = CommunityRoleKind.COMMUNITY_STEWARD
                r.community.append(CommunityRow(0, village_code, steward_role, person, phone, None))
            members = team_members[v // 2][1:]
            for g, grid_code in enumerate(grids):
                person, phone = names.person()
                r.community.append(CommunityRow(0, grid_code, CommunityRoleKind.GRID_LEADER, person, phone, None))
                if t == 4 and v == 0 and g == 0:
                    continue  # 统景镇's first grid: no sentinel yet
                unassigned = t == 3 and v == 3 and g == len(grids) - 1
                for s in range(1 + (g + v) % 2):
                    person, phone = names.person()
                    paired = None if unassigned or (t == 5 and v == 0 and g == 0 and s == 0) else members[(g + s) % 3]
                    r.community.append(CommunityRow(0, grid_code, CommunityRoleKind.SENTINEL, person, phone, paired))
    return r
