"""Accounts and role grants. Who may manage an account follows from the org unit it
belongs to; a grant can only be given over a unit the granter itself may manage."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, periods
from services.core.accounts import principals
from services.core.accounts import service as auth_service
from services.core.accounts.models import RoleGrant, User
from services.core.accounts.schemas import GrantCreate, UserCreate, UserUpdate
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, Conflict, NotFound, field_error
from services.core.org import repository as org_repository
from services.core.org.models import Institution, OrgUnit
from services.core.pagination import paginate
from services.core.periods import active_at
from services.core.security.passwords import hash_secret_async
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import INSTITUTION_REQUIRED, INSTITUTION_ROLES, SYSTEM_ROLES, Permission, Role
from services.core.versioning import check_version


def readable(principal: Principal, permission: Permission = Permission.USERS_READ) -> Select[User]:
    """Accounts whose home unit lies in the principal's scope."""
    return (
        select(User)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(scope_clause(principal, permission, OrgUnit.path))
    )


async def get_in_scope(
    db: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    permission: Permission = Permission.USERS_READ,
) -> User:
    """One account within scope; 404 otherwise."""
    user = await db.scalar(readable(principal, permission).where(User.id == user_id))
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


async def create_user(db: AsyncSession, principal: Principal | None, data: UserCreate) -> User:
    """Create an account with its first grants; ``principal`` None means the CLI (trusted)."""
    await _unit_writable(db, principal, data.org_unit_id, field="org_unit_id")
    username = data.username.lower()
    if await db.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"username {username} is taken")
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        kind=data.kind,
        secret_hash=await hash_secret_async(data.secret),
        org_unit_id=data.org_unit_id,
        locale=data.locale,
    )
    db.add(user)
    await db.flush()
    for i, grant in enumerate(data.grants):
        await add_grant(db, principal, user, grant, field=f"body.grants.{i}")
    await _audit_user(db, principal, "user.created", user, username=username, kind=user.kind)
    return user


async def _unit_writable(db: AsyncSession, principal: Principal | None, unit_id: uuid.UUID, *, field: str) -> None:
    """404 for a unit outside the principal's scope; for the CLI (None), 422 on ``field`` for a missing unit."""
    if principal is not None:
        await org_repository.get_in_scope(db, principal, unit_id, Permission.USERS_WRITE)
    elif await db.get(OrgUnit, unit_id) is None:
        raise field_error(field, "no such org unit")


async def _audit_user(
    db: AsyncSession, principal: Principal | None, action: str, user: User, **details: object
) -> None:
    """An audit event about an account, scoped by its home unit (``principal`` None: the CLI)."""
    await audit.record(
        db,
        actor_id=principal.user_id if principal else None,
        action=action,
        subject_type="user",
        subject_id=user.id,
        org_path=await org_repository.path_of(db, user.org_unit_id),
        details=details,
    )


async def add_grant(
    db: AsyncSession,
    principal: Principal | None,
    user: User,
    data: GrantCreate,
    *,
    field: str = "body",
) -> RoleGrant:
    """Give ``user`` a role over an org unit for a period."""
    await _unit_writable(db, principal, data.org_unit_id, field=f"{field}.org_unit_id")
    is_system_role = data.role in SYSTEM_ROLES
    if is_system_role != (user.kind == "system"):
        raise field_error(f"{field}.role", f"role {data.role.value} is not for a {user.kind} account")
    if data.institution_id is None and data.role in INSTITUTION_REQUIRED:
        raise field_error(f"{field}.institution_id", f"a {data.role.value} grant names its institution")
    if data.institution_id is not None:
        if data.role not in INSTITUTION_ROLES:
            raise field_error(
                f"{field}.institution_id",
                "only an institution steward's, a referral desk's, a HIS client's or a social worker's grant"
                " names an institution",
            )
        if data.role is Role.HIS_CLIENT:
            bound = await db.scalar(
                select(RoleGrant.institution_id).where(
                    RoleGrant.user_id == user.id,
                    RoleGrant.role == Role.HIS_CLIENT.value,
                    RoleGrant.institution_id.is_not(None),
                    RoleGrant.institution_id != data.institution_id,
                    active_at(RoleGrant, clock.now()),
                )
            )
            if bound is not None:
                raise field_error(f"{field}.institution_id", "a HIS client is bound to exactly one institution")
        institution = await db.get(Institution, data.institution_id)
        if institution is None or institution.org_unit_id != data.org_unit_id:
            raise field_error(f"{field}.institution_id", "no such institution in that org unit")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at, field=field)
    grant = RoleGrant(
        user_id=user.id,
        role=data.role.value,
        org_unit_id=data.org_unit_id,
        institution_id=data.institution_id,
        starts_at=starts_at,
        ends_at=ends_at,
        granted_by=principal.user_id if principal else None,
    )
    db.add(grant)
    await db.flush()
    principals.changed()  # the holder's next request sees the new grant, not a kept principal
    if principal is not None:
        await _audit_user(
            db, principal, "role_grant.created", user, role=data.role.value, org_unit_id=str(data.org_unit_id)
        )
    return grant


class LastAdministrator(Conflict):
    """The change would leave a district without an active administrator."""

    code, title = "last_administrator", "The district's last administrator"


async def _district_admin_units(db: AsyncSession, grants: list[RoleGrant]) -> list[uuid.UUID]:
    """The district units among ``grants`` held as ``district_admin`` (a grant on the district itself)."""
    unit_ids = {g.org_unit_id for g in grants if g.role == Role.DISTRICT_ADMIN.value}
    if not unit_ids:
        return []
    rows = await db.scalars(select(OrgUnit.id).where(OrgUnit.id.in_(unit_ids), OrgUnit.kind == "district"))
    return sorted(rows)


async def keep_an_administrator(
    db: AsyncSession,
    grants: list[RoleGrant],
    *,
    removing_user: uuid.UUID | None = None,
    removing_grants: frozenset[uuid.UUID] = frozenset(),
) -> None:
    """409 ``last_administrator`` when ending ``removing_grants`` (or disabling ``removing_user``)
    would leave a district among ``grants`` with no active ``district_admin`` grant on an active account.

    Race-safe: every ``district_admin`` grant of the district is locked (``FOR UPDATE``, in id order)
    before counting, so two administrators ending each other's grants at once are serialised and the
    second counts after the first committed (READ COMMITTED: a new statement sees the commit).
    "Active" is judged at a time read after the lock: a time read before it could precede the end the
    first one wrote, and count that ended grant as still active (both would then end: seen under load).
    """
    for district_id in await _district_admin_units(db, grants):
        await db.execute(
            select(RoleGrant.id)
            .where(RoleGrant.org_unit_id == district_id, RoleGrant.role == Role.DISTRICT_ADMIN.value)
            .order_by(RoleGrant.id)
            .with_for_update()
        )
        now = clock.now()
        others = select(func.count()).select_from(RoleGrant).join(User, User.id == RoleGrant.user_id)
        others = others.where(
            RoleGrant.org_unit_id == district_id,
            RoleGrant.role == Role.DISTRICT_ADMIN.value,
            active_at(RoleGrant, now),
            User.is_active.is_(True),
        )
        if removing_grants:
            others = others.where(RoleGrant.id.not_in(removing_grants))
        if removing_user is not None:
            others = others.where(RoleGrant.user_id != removing_user)
        if not await db.scalar(others.execution_options(populate_existing=True)):
            raise LastAdministrator(
                "this is the district's last active administrator: grant district_admin to another account first",
                org_unit_id=str(district_id),
            )


async def end_grant(db: AsyncSession, principal: Principal, user_id: uuid.UUID, grant_id: uuid.UUID) -> RoleGrant:
    """End a grant now; grants are never deleted, so "who could do what when" stays answerable."""
    user = await get_in_scope(db, principal, user_id, Permission.USERS_WRITE)
    grant = await db.scalar(select(RoleGrant).where(RoleGrant.id == grant_id, RoleGrant.user_id == user.id))
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    await org_repository.get_in_scope(db, principal, grant.org_unit_id, Permission.USERS_WRITE)
    now = clock.now()
    if grant.ends_at is None or grant.ends_at > now:
        if grant.starts_at <= now:
            await keep_an_administrator(db, [grant], removing_grants=frozenset({grant.id}))
        grant.ends_at = max(now, grant.starts_at)
        await db.flush()
        principals.changed()
        await _audit_user(db, principal, "role_grant.ended", user, grant_id=str(grant.id))
    return grant


async def update_user(
    db: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    data: UserUpdate,
    *,
    expected_version: int,
) -> User:
    """Change a display name, disable an account or set a new secret."""
    user = await get_in_scope(db, principal, user_id, Permission.USERS_WRITE)
    check_version(user.version, expected_version)
    if data.display_name is not None:
        user.display_name = data.display_name.strip()
    if data.is_active is False and user.is_active:
        active = [g for g in (await grants_of(db, [user.id]))[user.id] if g.starts_at <= clock.now()]
        await keep_an_administrator(
            db, [g for g in active if g.ends_at is None or g.ends_at > clock.now()], removing_user=user.id
        )
    if data.is_active is not None:
        user.is_active = data.is_active
        principals.changed()
    if data.locale is not None:
        user.locale = data.locale
    if data.secret is not None:
        user.secret_hash = await hash_secret_async(data.secret)
        # A new secret ends every login made with the old one (a leaked password stops working now).
        await auth_service.revoke_all_sessions(db, user_id=user.id, reason="secret_changed")
    if data.is_active is False:
        await auth_service.revoke_all_sessions(db, user_id=user.id, reason="account_disabled")
    await db.flush()
    await _audit_user(db, principal, "user.updated", user, fields=sorted(data.model_dump(exclude_none=True)))
    return user


async def grants_of(db: AsyncSession, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[RoleGrant]]:
    """All grants (past, present, future) of several users in one query."""
    result: dict[uuid.UUID, list[RoleGrant]] = defaultdict(list)
    if user_ids:
        rows = await db.scalars(select(RoleGrant).where(RoleGrant.user_id.in_(user_ids)).order_by(RoleGrant.starts_at))
        for grant in rows:
            result[grant.user_id].append(grant)
    return result


async def list_users(
    db: AsyncSession,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[User], str | None]:
    """Accounts in scope, by username, a page at a time."""
    stmt = readable(principal)
    if org_unit_id is not None:
        stmt = stmt.where(User.org_unit_id == org_unit_id)
    return await paginate(db, stmt, key=User.username, cursor=cursor, limit=limit)


async def get_self(db: AsyncSession, user_id: uuid.UUID) -> User:
    """The caller's own account (always readable by its owner)."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("account not found")
    return user
