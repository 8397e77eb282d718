"""The hours workbook (.xlsx): every entry served in a period, and each volunteer's verified total.

What a person reads: Chinese headers and values by default (English for an account whose locale is
``en``), times in China time, no ids. A volunteer with nothing logged shows 未登记 / not logged, never 0.
"""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit import service as audit
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork.models import SocialWorkDepartment
from services.core.volunteers import common, metrics, repository
from services.core.volunteers.models import Volunteer, VolunteerHours

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_TEXT = {
    "zh-CN": {
        "entries": "服务时长明细",
        "totals": "志愿者时长汇总",
        "entry_headers": [
            "志愿者",
            "社工部门",
            "服务日期",
            "时长(小时)",
            "服务内容",
            "状态",
            "提交时间",
            "审核时间",
            "退回原因",
        ],
        "total_headers": ["志愿者", "登记条数", "已核实时长(小时)", "待审核时长(小时)"],
        "status": {"submitted": "待审核", "verified": "已核实", "rejected": "已退回"},
        "not_logged": "未登记",
        "title": "志愿服务时长 {start} 至 {end}",
    },
    "en": {
        "entries": "Entries",
        "totals": "Totals",
        "entry_headers": [
            "Volunteer",
            "Department",
            "Served on",
            "Hours",
            "Activity",
            "Status",
            "Submitted",
            "Decided",
            "Rejection reason",
        ],
        "total_headers": ["Volunteer", "Entries", "Verified hours", "Pending hours"],
        "status": {"submitted": "submitted", "verified": "verified", "rejected": "rejected"},
        "not_logged": "not logged",
        "title": "Volunteer hours {start} to {end}",
    },
}


def _china(at: datetime | None) -> str:
    return at.astimezone(common.CHINA).strftime("%Y-%m-%d %H:%M") if at is not None else ""


async def export_xlsx(
    db: AsyncSession,
    *,
    principal: Principal,
    starts_on: date,
    ends_on: date,
    department_id: uuid.UUID | None,
    locale: str,
) -> bytes:
    """The workbook of the entries in the caller's scope served ``starts_on``..``ends_on``; audited."""
    text = _TEXT.get(locale, _TEXT["zh-CN"])
    stmt = (
        repository.readable(principal, VolunteerHours)
        .add_columns(Volunteer.name, SocialWorkDepartment.name)
        .join(Volunteer, Volunteer.id == VolunteerHours.volunteer_id)
        .join(SocialWorkDepartment, SocialWorkDepartment.id == VolunteerHours.department_id)
        .where(VolunteerHours.served_on >= starts_on, VolunteerHours.served_on <= ends_on)
        .order_by(SocialWorkDepartment.name, Volunteer.name, VolunteerHours.served_on, VolunteerHours.id)
    )
    if department_id is not None:
        stmt = stmt.where(VolunteerHours.department_id == department_id)
    rows = (await db.execute(stmt)).all()
    totals = await metrics.verified_hours(
        db, level=metrics.Level.VOLUNTEER, starts_on=starts_on, ends_on=ends_on, principal=principal
    )
    if department_id is not None:
        ours = set((await db.scalars(select(Volunteer.id).where(Volunteer.department_id == department_id))).all())
        totals = [t for t in totals if t.id in ours]

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = str(text["entries"])
    sheet.append([str(text["title"]).format(start=starts_on.isoformat(), end=ends_on.isoformat())])
    sheet.append(list(text["entry_headers"]))
    status_names: dict[str, str] = text["status"]  # type: ignore[assignment]
    for entry, volunteer_name, department_name in rows:
        sheet.append(
            [
                volunteer_name,
                department_name,
                entry.served_on.isoformat(),
                float(entry.hours),
                entry.activity,
                status_names[entry.status],
                _china(entry.submitted_at),
                _china(entry.decided_at),
                entry.rejection_reason or "",
            ]
        )
    summary = book.create_sheet(str(text["totals"]))
    summary.append(list(text["total_headers"]))
    for total in totals:
        verified = float(total.verified_hours) if total.verified_hours is not None else text["not_logged"]
        summary.append([total.name, total.entries, verified, float(total.pending_hours)])
    for ws in (sheet, summary):
        for cell in ws[2 if ws is sheet else 1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    path = min(principal.paths_with(Permission.VOLUNTEERS_READ), key=len, default="")
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="volunteer_hours.exported",
        subject_type="volunteer_hours",
        subject_id=department_id,
        org_path=path,
        details={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "rows": len(rows)},
    )
    return out.getvalue()
