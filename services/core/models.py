"""Imports every model module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.org.models import OrgUnit
from services.core.residents.models import IdempotencyKey, Resident, ResidentTag
from services.core.security.models import AuthSession, RefreshToken, RoleGrant, User
from services.core.system.models import WorkerHeartbeat

__all__ = [
    "AuditEvent",
    "AuthSession",
    "IdempotencyKey",
    "Base",
    "OrgUnit",
    "RefreshToken",
    "Resident",
    "ResidentTag",
    "RoleGrant",
    "User",
    "WorkerHeartbeat",
]
