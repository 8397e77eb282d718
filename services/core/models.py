"""Imports every model module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from services.core.assignments.models import CommunityRole, Pairing, Responsibility
from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.org.models import OrgUnit
from services.core.security.models import AuthSession, RefreshToken, RoleGrant, User
from services.core.system.models import WorkerHeartbeat
from services.core.teams.models import Institution, InstitutionSteward, Person, Team, TeamBacking, TeamMember

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Base",
    "CommunityRole",
    "Institution",
    "InstitutionSteward",
    "OrgUnit",
    "Pairing",
    "Person",
    "RefreshToken",
    "Responsibility",
    "RoleGrant",
    "Team",
    "TeamBacking",
    "TeamMember",
    "User",
    "WorkerHeartbeat",
]
