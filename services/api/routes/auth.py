"""OAuth2 tokens (password, refresh_token, client_credentials), logout and the caller's own account.

The protocol every client speaks before any domain, so not ``accounts.py`` (whose routes administer accounts);
it calls ``core/accounts`` to log in (``NOT_A_CORE_PACKAGE`` in ``tests/core/test_architecture.py``)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Header, Request, status

from services.api import throttle
from services.api.deps import CurrentPrincipal, DbSession, SettingsDep
from services.api.problems import problem_responses
from services.core.accounts import service as auth_service
from services.core.accounts import users as users_service
from services.core.accounts.schemas import GrantRead, MeRead, TokenResponse
from services.core.errors import InvalidClient, InvalidGrant, field_error
from services.core.text import CleanStr

router = APIRouter(tags=["auth"])


@router.post(
    "/oauth/token",
    summary="Get tokens (OAuth2 password, refresh_token or client_credentials grant)",
    responses=problem_responses(400, 401, 422, 429),
)
async def issue_token(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    grant_type: Annotated[Literal["password", "refresh_token", "client_credentials"], Form()],
    username: Annotated[CleanStr | None, Form(max_length=64)] = None,
    password: Annotated[CleanStr | None, Form(max_length=200)] = None,
    refresh_token: Annotated[CleanStr | None, Form(max_length=200)] = None,
    client_id: Annotated[CleanStr | None, Form(max_length=64)] = None,
    client_secret: Annotated[CleanStr | None, Form(max_length=200)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    """Form-encoded per RFC 6749; systems may send client credentials as HTTP Basic instead."""
    redis = getattr(request.app.state, "redis", None)  # None: the throttle stays open
    if grant_type == "password":
        if not username or not password:
            raise field_error("body.password", "username and password are required for the password grant")
        await throttle.refuse_if_locked(redis, settings, username)
        try:
            issued = await auth_service.login_with_password(db, settings=settings, username=username, password=password)
        except InvalidGrant:
            await throttle.record_failure(redis, settings, username)
            raise
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise field_error("body.refresh_token", "required for the refresh_token grant")
        issued = await auth_service.rotate_refresh_token(db, settings=settings, refresh_token=refresh_token)
    else:
        client_id, client_secret = _client_credentials(client_id, client_secret, authorization)
        await throttle.refuse_if_locked(redis, settings, client_id)
        try:
            issued = await auth_service.login_client(
                db, settings=settings, client_id=client_id, client_secret=client_secret
            )
        except InvalidClient:
            await throttle.record_failure(redis, settings, client_id)
            raise
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


def _client_credentials(client_id: str | None, secret: str | None, authorization: str | None) -> tuple[str, str]:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClient("malformed Basic credentials") from exc
        client_id, _, secret = decoded.partition(":")
    if not client_id or not secret:
        raise InvalidClient("client_id and client_secret are required for client_credentials")
    return client_id, secret


@router.post(
    "/oauth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: revoke this login's access and refresh tokens",
    responses=problem_responses(401),
)
async def logout(db: DbSession, principal: CurrentPrincipal) -> None:
    """Every token of the caller's login stops working at once."""
    await auth_service.logout(db, session_id=principal.session_id)


@router.get("/me", summary="The caller's account and active grants", responses=problem_responses(401))
async def read_me(db: DbSession, principal: CurrentPrincipal) -> MeRead:
    """Who the token belongs to and what it may do now."""
    user = await users_service.get_self(db, principal.user_id)
    grants = [
        g for g in (await users_service.grants_of(db, [user.id]))[user.id] if g.id in {x.id for x in principal.grants}
    ]
    return MeRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        kind=user.kind,
        grants=[GrantRead.model_validate(g) for g in grants],
    )
