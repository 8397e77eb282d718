"""Imports every model module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from services.core.accounts.models import AuthSession, RefreshToken, RoleGrant, User
from services.core.assignments.models import CommunityRole, Pairing, Responsibility
from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.deadlines.models import Deadline, DeadlineStep
from services.core.duties.models import DutyNotice, DutySubmission, Livestream, WorkDay, WorkDayUnit
from services.core.lifecycle.models import RecordTransition
from services.core.notifications.models import InboxCounter, Notification, OutboxMessage
from services.core.org.models import Institution, OrgUnit
from services.core.referrals.models import Referral, ReferralChange, ReferralFeedCounter, ReferralIdentifier
from services.core.reports.models import ReportFollowUp, SentinelReport
from services.core.residents.models import IdempotencyKey, Resident, ResidentTag, ResidentTombstone
from services.core.signing.models import Contact, Signing
from services.core.socialwork.models import Activity as SocialWorkActivity
from services.core.socialwork.models import AidApplication as SocialWorkAidApplication
from services.core.socialwork.models import Assessment as SocialWorkAssessment
from services.core.socialwork.models import CaseWorker as SocialWorkCaseWorker
from services.core.socialwork.models import ConfidentialNote as SocialWorkConfidentialNote
from services.core.socialwork.models import PlanTask as SocialWorkPlanTask
from services.core.socialwork.models import SocialWorkCase, SocialWorkDepartment
from services.core.socialwork.models import Transfer as SocialWorkTransfer
from services.core.supervision.models import Bulletin, RectificationItem
from services.core.system.models import WorkerHeartbeat
from services.core.teams.models import InstitutionSteward, Person, Posting, Team, TeamBacking, TeamMember
from services.core.volunteers.models import GroupSession, Volunteer, VolunteerHours, VolunteerShift
from services.core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookMessage, WebhookSubscription

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Bulletin",
    "IdempotencyKey",
    "Base",
    "CommunityRole",
    "Contact",
    "Deadline",
    "DeadlineStep",
    "DutyNotice",
    "DutySubmission",
    "Livestream",
    "WorkDay",
    "WorkDayUnit",
    "InboxCounter",
    "Institution",
    "InstitutionSteward",
    "Notification",
    "OrgUnit",
    "OutboxMessage",
    "Pairing",
    "Posting",
    "RecordTransition",
    "RectificationItem",
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
    "SocialWorkActivity",
    "SocialWorkAidApplication",
    "SocialWorkAssessment",
    "SocialWorkCase",
    "SocialWorkCaseWorker",
    "SocialWorkConfidentialNote",
    "SocialWorkDepartment",
    "SocialWorkPlanTask",
    "SocialWorkTransfer",
    "Team",
    "TeamBacking",
    "TeamMember",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookMessage",
    "WebhookSubscription",
    "Volunteer",
    "VolunteerHours",
    "VolunteerShift",
    "GroupSession",
    "WorkerHeartbeat",
]
