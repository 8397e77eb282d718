"""Social-work departments and the case records their social workers keep.

A department belongs to one institution (at most one each); a social worker's or supervisor's
role grant names that institution, which is how they are scoped to the department.
``org_unit_id``/``district_id`` are the institution's, copied so scope and metrics never join
back through it.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class SocialWorkDepartment(TimestampMixin, Base):
    """An institution's social-work department (社会工作部): one per institution."""

    __tablename__ = "social_work_department"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # A community social-work station (社区社工站) is a department of a primary institution that takes
    # discharged patients' cases over; hospitals' departments hand cases to it.
    is_station: Mapped[bool] = mapped_column(default=False)
    established_on: Mapped[date | None] = mapped_column(Date)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
