"""Imports every model module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.deadlines.models import Deadline, DeadlineStep
from services.core.notifications.models import InboxCounter, Notification, OutboxMessage
from services.core.org.models import OrgUnit
from services.core.security.models import AuthSession, RefreshToken, RoleGrant, User
from services.core.system.models import WorkerHeartbeat

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Base",
    "Deadline",
    "DeadlineStep",
    "InboxCounter",
    "Notification",
    "OrgUnit",
    "OutboxMessage",
    "RefreshToken",
    "RoleGrant",
    "User",
    "WorkerHeartbeat",
]
