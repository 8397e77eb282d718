"""The member roster (.xlsx export and all-or-nothing import) and the public team directory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from services.api.deps import AssignmentsWrite, DbSession, Pii, RosterExport
from services.api.problems import problem_responses
from services.api.workbooks import Accept, xlsx_answer, xlsx_responses
from services.core import clock
from services.core.errors import field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnitKind
from services.core.roster import directory
from services.core.roster import service as roster_service
from services.core.roster.schemas import DirectoryVillage, RosterImportSummary
from services.core.security.roles import Permission
from services.core.text import Instant

router = APIRouter(tags=["roster"])

MAX_ROSTER_BYTES = 10 * 1024 * 1024

_AREA = Query(description="A town/subdistrict, or the district: the roster covers its villages and grids.")


@router.get(
    "/roster.xlsx",
    summary="Export the member roster as .xlsx",
    response_class=Response,
    responses=xlsx_responses(
        "The workbook (sheets 网格, 机构, 团队, 团队成员, 网格人员)",
        "roster-<code>-<yyyymmdd>.xlsx",
        *(401, 403, 404, 422),
    ),
)
async def export_roster(
    db: DbSession,
    principal: RosterExport,
    pii: Pii,
    org_unit_id: Annotated[uuid.UUID, _AREA],
    at: Annotated[Instant | None, Query(description="The roster as it stood then; defaults to now.")] = None,
    accept: Accept = None,
) -> Response:
    """家医网格"双向赋能"成员明细表 for a town or the district, in the layout the import reads back."""
    unit = await org_repository.get_in_scope(db, principal, org_unit_id, Permission.ROSTER_EXPORT)
    if unit.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN):
        raise field_error("query.org_unit_id", "the roster is exported for a town or the district")
    when: datetime = at or clock.now()
    content = await roster_service.export_xlsx(db, unit, when, pii=pii, actor_id=principal.user_id)
    return xlsx_answer(content, accept=accept, filename=f"roster-{unit.code}-{when:%Y%m%d}.xlsx")


@router.post(
    "/roster/imports",
    summary="Import the member roster (.xlsx), all or nothing",
    responses=problem_responses(401, 403, 404, 413, 422),
)
async def import_roster(
    db: DbSession,
    principal: AssignmentsWrite,
    pii: Pii,
    org_unit_id: Annotated[uuid.UUID, _AREA],
    file: Annotated[UploadFile, File(description="The roster workbook, as exported by GET /roster.xlsx.")],
    dry_run: Annotated[bool, Query(description="Check and count, change nothing.")] = False,
) -> RosterImportSummary:
    """Every row is checked first; any problem answers 422 with `errors` [{sheet, row, column, message}] and
    nothing changes. Existing records are kept (re-importing a file creates nothing); records not in the file
    are left and counted in `not_in_file`."""
    unit = await org_repository.get_in_scope(db, principal, org_unit_id, Permission.ASSIGNMENTS_WRITE)
    if unit.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN):
        raise field_error("query.org_unit_id", "the roster is imported for a town or the district")
    content = await file.read(MAX_ROSTER_BYTES + 1)
    if len(content) > MAX_ROSTER_BYTES:
        raise field_error("body.file", f"at most {MAX_ROSTER_BYTES // (1024 * 1024)} MB")
    return await roster_service.import_roster(
        db, principal=principal, target=unit, content=content, pii=pii, dry_run=dry_run
    )


@router.get(
    "/directory/villages/{village_id}/teams",
    summary="Public: the family doctor teams serving a village/community",
    tags=["directory"],
    responses=problem_responses(404, 422),
)
async def village_team_directory(db: DbSession, village_id: uuid.UUID) -> DirectoryVillage:
    """No login: team, institution, leader's name, service phone and grids served; nothing else personal."""
    return await directory.village_teams(db, village_id=village_id)
