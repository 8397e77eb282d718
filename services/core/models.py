"""Imports every model module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from services.core.accounts.models import AuthSession, RefreshToken, RoleGrant, User
from services.core.assignments.models import CommunityRole, Pairing, Responsibility
from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.deadlines.models import Deadline, DeadlineStep
from services.core.lifecycle.models import RecordTransition
from services.core.notifications.models import InboxCounter, Notification, OutboxMessage
from services.core.org.models import Institution, OrgUnit
from services.core.referrals.models import Referral, ReferralChange, ReferralFeedCounter, ReferralIdentifier
from services.core.reports.models import ReportFollowUp, SentinelReport
from services.core.residents.models import IdempotencyKey, Resident, ResidentTag, ResidentTombstone
from services.core.signing.models import Contact, Signing
from services.core.system.models import WorkerHeartbeat
from services.core.teams.models import InstitutionSteward, Person, Team, TeamBacking, TeamMember

__all__ = [
    "AuditEvent",
    "AuthSession",
    "IdempotencyKey",
    "Base",
    "CommunityRole",
    "Contact",
    "Deadline",
    "DeadlineStep",
    "InboxCounter",
    "Institution",
    "InstitutionSteward",
    "Notification",
    "OrgUnit",
    "OutboxMessage",
    "Pairing",
    "RecordTransition",
    "Person",
    "Referral",
    "ReferralChange",
    "ReferralFeedCounter",
    "ReferralIdentifier",
    "RefreshToken",
    "ReportFollowUp",
    "Resident",
    "ResidentTag",
    "ResidentTombstone",
    "Responsibility",
    "RoleGrant",
    "SentinelReport",
    "Signing",
    "Team",
    "TeamBacking",
    "TeamMember",
    "User",
    "WorkerHeartbeat",
]
