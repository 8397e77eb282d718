"""Roles and what each may do. The one table every authorization decision reads."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"
    AUDITOR = "auditor"
    DISTRICT_COMMISSION = "district_commission"
    TOWN_SUPERVISOR = "town_supervisor"
    INSTITUTION_STEWARD = "institution_steward"
    TEAM_LEADER = "team_leader"
    TEAM_MEMBER = "team_member"
    COMMUNITY_STEWARD = "community_steward"
    GRID_LEADER = "grid_leader"
    SENTINEL = "sentinel"
    SOCIAL_WORKER = "social_worker"
    HIS_CLIENT = "his_client"


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    AUDIT_READ = "audit:read"
    RESIDENTS_READ = "residents:read"
    RESIDENTS_WRITE = "residents:write"
    RESIDENTS_IMPORT = "residents:import"


_EVERYONE = frozenset({Permission.ORG_READ})
_READ = frozenset({Permission.RESIDENTS_READ})
_CARE = frozenset({Permission.RESIDENTS_READ, Permission.RESIDENTS_WRITE})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DISTRICT_ADMIN: frozenset(Permission) - {Permission.AUDIT_READ},
    Role.AUDITOR: _EVERYONE | _READ | {Permission.AUDIT_READ, Permission.USERS_READ},
    Role.DISTRICT_COMMISSION: _EVERYONE | _READ | {Permission.USERS_READ},
    Role.TOWN_SUPERVISOR: _EVERYONE | _READ | {Permission.USERS_READ},
    Role.INSTITUTION_STEWARD: _EVERYONE | _READ,
    Role.TEAM_LEADER: _EVERYONE | _CARE | {Permission.RESIDENTS_IMPORT},
    Role.TEAM_MEMBER: _EVERYONE | _CARE,
    Role.COMMUNITY_STEWARD: _EVERYONE | _CARE,
    Role.GRID_LEADER: _EVERYONE | _CARE,
    Role.SENTINEL: _EVERYONE | _CARE,
    Role.SOCIAL_WORKER: _EVERYONE,
    Role.HIS_CLIENT: _EVERYONE,
}

# Roles a system (client-credentials) account may hold; people may hold the others.
SYSTEM_ROLES = frozenset({Role.HIS_CLIENT})
