"""Accounts and their role grants."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import DbSession, IfMatch, UsersRead, UsersWrite, answer
from services.api.problems import problem_responses
from services.core.accounts import users as service
from services.core.accounts.models import User
from services.core.accounts.schemas import GrantCreate, GrantRead, UserCreate, UserRead, UserUpdate
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.roles import Permission
from services.core.text import CleanStr

router = APIRouter(prefix="/users", tags=["users"])


async def _read(db: AsyncSession, user: User) -> UserRead:
    grants = (await service.grants_of(db, [user.id]))[user.id]
    read = UserRead.model_validate(user)
    read.grants = [GrantRead.model_validate(g) for g in grants]
    return read


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account (person or system) with its grants",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_user(db: DbSession, principal: UsersWrite, body: UserCreate, response: Response) -> UserRead:
    """Usernames are case-insensitive; secrets are stored as argon2id hashes only."""
    user = await service.create_user(db, principal, body)
    return answer(response, user, await _read(db, user), location=f"/users/{user.id}")


@router.get("", summary="List accounts in scope", responses=problem_responses(401, 403, 422))
async def list_users(
    db: DbSession,
    principal: UsersRead,
    org_unit_id: uuid.UUID | None = None,
    cursor: Annotated[CleanStr | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[UserRead]:
    """Accounts whose home unit the caller may read, by username."""
    rows, next_cursor = await service.list_users(db, principal, org_unit_id=org_unit_id, cursor=cursor, limit=limit)
    grants = await service.grants_of(db, [u.id for u in rows])
    items = []
    for user in rows:
        read = UserRead.model_validate(user)
        read.grants = [GrantRead.model_validate(g) for g in grants[user.id]]
        items.append(read)
    return Page[UserRead](items=items, next_cursor=next_cursor)


@router.get("/{user_id}", summary="Read one account", responses=problem_responses(401, 403, 404, 422))
async def read_user(db: DbSession, principal: UsersRead, user_id: uuid.UUID, response: Response) -> UserRead:
    """404 when it does not exist or lies outside the caller's scope."""
    user = await service.get_in_scope(db, principal, user_id)
    return answer(response, user, await _read(db, user))


@router.patch(
    "/{user_id}",
    summary="Change an account's name, active flag or secret",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(service.LastAdministrator,)),
)
async def update_user(
    db: DbSession,
    principal: UsersWrite,
    user_id: uuid.UUID,
    body: UserUpdate,
    version: IfMatch,
    response: Response,
) -> UserRead:
    """Disabling an account ends its logins at the next request; the district's last administrator
    cannot be disabled (409 `last_administrator`)."""
    user = await service.update_user(db, principal, user_id, body, expected_version=version)
    return answer(response, user, await _read(db, user))


@router.post(
    "/{user_id}/grants",
    status_code=status.HTTP_201_CREATED,
    summary="Give an account a role over an org unit",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_grant(db: DbSession, principal: UsersWrite, user_id: uuid.UUID, body: GrantCreate) -> GrantRead:
    """The unit must lie within the caller's own scope."""
    user = await service.get_in_scope(db, principal, user_id, Permission.USERS_WRITE)
    return GrantRead.model_validate(await service.add_grant(db, principal, user, body))


@router.post(
    "/{user_id}/grants/{grant_id}/end",
    summary="End a role grant now (grants are kept for history)",
    responses=problem_responses(401, 403, 404, 409, 422, errors=(service.LastAdministrator,)),
)
async def end_grant(db: DbSession, principal: UsersWrite, user_id: uuid.UUID, grant_id: uuid.UUID) -> GrantRead:
    """Idempotent: ending an ended grant changes nothing. The last active `district_admin` grant of a
    district cannot be ended (409 `last_administrator`): grant another administrator first."""
    return GrantRead.model_validate(await service.end_grant(db, principal, user_id, grant_id))
