"""The rules of logging in: users, tokens, API keys, and taking them back (revocation).

Login throttling lives in :mod:`capturehub.server.auth.throttle`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from capturehub.server.auth import secrets, throttle
from capturehub.server.db import Database
from capturehub.server.errors import APIError, Conflict, NotFound
from capturehub.server.models import AccessToken, ApiKey, Project, RefreshToken, Team, User
from capturehub.server.settings import Settings


@dataclass(frozen=True)
class Caller:
    """Who is making a request: every route scopes its queries by ``team_id``."""

    user_id: int
    team_id: int
    username: str


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


class InvalidGrant(APIError):
    """OAuth2 errors have their own body shape (RFC 6749 §5.2), built by the token route."""

    status_code = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_user(session: Session, username: str, password: str, team_name: str) -> User:
    username = username.strip()
    if not username:
        raise APIError("A user name cannot be empty.")
    if len(password) < 8:
        raise APIError("A password needs at least 8 characters.")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"User {username!r} already exists.")
    team = session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        team = Team(name=team_name)
        session.add(team)
        session.flush()
    user = User(username=username, password_hash=secrets.hash_password(password), team_id=team.id)
    session.add(user)
    session.flush()
    return user


def create_api_key(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    key = secrets.new_api_key()
    session.add(ApiKey(user_id=user.id, key_hash=secrets.hash_secret(key), prefix=key[:10]))
    return key


def create_project_api_key(session: Session, username: str, project: str) -> str:
    """An ``ei_`` key bound to one project of the user's team (named, or given by uuid): it
    opens that project only, on the Edge Impulse routes (capturehub/server/edge_impulse)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    row = session.scalar(
        select(Project).where(
            Project.team_id == user.team_id, or_(Project.name == project, Project.uuid == project)
        )
    )
    if row is None:
        raise NotFound(f"User {username!r} has no project {project!r} in their team.")
    key = secrets.new_project_key()
    session.add(
        ApiKey(
            user_id=user.id, key_hash=secrets.hash_secret(key), prefix=key[:10], project_id=row.id
        )
    )
    return key


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def _issue(
    session: Session, user: User, settings: Settings, grant_id: str | None = None
) -> IssuedTokens:
    """A new access and refresh token of the login ``grant_id`` (a new login when None)."""
    access, refresh = secrets.new_token(), secrets.new_token()
    grant_id = grant_id or uuid.uuid4().hex
    now = _now()
    session.add(
        AccessToken(
            user_id=user.id,
            token_hash=secrets.hash_secret(access),
            expires_at=now + timedelta(seconds=settings.access_token_ttl_seconds),
            grant_id=grant_id,
        )
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=secrets.hash_secret(refresh),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            grant_id=grant_id,
        )
    )
    return IssuedTokens(access, refresh, settings.access_token_ttl_seconds)


def login(
    db: Database, *, username: str, password: str, address: str, settings: Settings
) -> IssuedTokens:
    """Password grant from a client ``address``; :class:`InvalidGrant` on a failure (which
    counts against the throttle), 429 while the address or user name must wait.

    The password check (argon2: slow and memory-hungry on purpose) runs outside any
    transaction, holding no database connection: a burst of logins must not drain the pool.
    """
    with db.read(snapshot=False) as session:
        throttle.check(session, username, address)
        user = session.execute(
            select(User.id, User.password_hash, User.is_active).where(User.username == username)
        ).first()
    # An unknown user costs as long as a wrong password: the answer's timing tells nothing.
    stored_hash = user.password_hash if user is not None else secrets.DUMMY_PASSWORD_HASH
    verified = secrets.verify_password(stored_hash, password)
    if user is None or not verified or not user.is_active:
        with db.session() as session:
            throttle.record_failure(session, username, address)
        raise InvalidGrant("Invalid credentials given.")
    with db.session() as session:
        throttle.record_success(session, username, address)
        account = session.get(User, user.id)
        if account is None or not account.is_active:  # disabled or deleted meanwhile
            raise InvalidGrant("Invalid credentials given.")
        return _issue(session, account, settings)


def refresh(session: Session, refresh_token: str, settings: Settings) -> IssuedTokens:
    """Refresh grant: the old refresh token is revoked (rotation) and a new pair issued."""
    row = session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == secrets.hash_secret(refresh_token))
        .with_for_update()
    )
    if row is None or row.revoked or _aware(row.expires_at) <= _now():
        raise InvalidGrant("The refresh token is unknown, expired or already used; log in again.")
    row.revoked = True
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidGrant("The user of this refresh token no longer exists.")
    return _issue(session, user, settings, grant_id=row.grant_id)


def drop_refresh_token(session: Session, refresh_token: str) -> None:
    """Revoke one refresh token and nothing else: for a login that is to have an access token
    only (a browser session), where ending the grant would end that access token too."""
    digest = secrets.hash_secret(refresh_token)
    session.execute(
        update(RefreshToken).where(RefreshToken.token_hash == digest).values(revoked=True)
    )


def authenticate(session: Session, bearer: str) -> Caller | None:
    """The caller behind an access token or API key, or None."""
    statement, parameters = _caller_statement(bearer)
    row = session.execute(statement, parameters).first()
    if row is None:
        return None
    return Caller(user_id=row[0], team_id=row[1], username=row[2])


@dataclass(frozen=True)
class ProjectHead:
    """The columns of a project that a hot read route needs (not an ORM object)."""

    id: int
    capture_count: int


def authenticate_for_project(
    session: Session, bearer: str, project_uuid: str
) -> tuple[Caller, ProjectHead | None] | None:
    """:func:`authenticate` and the caller's team's project ``project_uuid`` (None when the
    team has no such project) in one statement: on PostgreSQL a statement is a round trip,
    and the busiest list reads nothing else before its page."""
    statement, parameters = _caller_statement(bearer, with_project=True)
    parameters["project_uuid"] = project_uuid
    # On the session's connection: a Core statement, without the ORM's execution layer.
    row = session.connection().execute(statement, parameters).first()
    if row is None:
        return None
    caller = Caller(user_id=row[0], team_id=row[1], username=row[2])
    return caller, None if row[3] is None else ProjectHead(row[3], row[4])


def _caller_query(*, api_key: bool) -> Select[int, int, str]:
    """The caller's ``(user id, team id, username)`` for the bound ``digest`` (and ``now``, for
    an access token): one row, or none for an unknown, expired or revoked token or key."""
    caller = select(User.id, User.team_id, User.username)
    if api_key:
        return caller.join(ApiKey, ApiKey.user_id == User.id).where(
            ApiKey.key_hash == bindparam("digest"),
            ApiKey.revoked.is_(False),
            ApiKey.project_id.is_(None),  # a project key opens its project only
            User.is_active,
        )
    return caller.join(AccessToken, AccessToken.user_id == User.id).where(
        AccessToken.token_hash == bindparam("digest"),
        AccessToken.expires_at > bindparam("now"),
        User.is_active,
    )


def _with_project(query: Select[int, int, str]) -> Select[Any]:
    """``query`` and the caller's team's project of the bound ``project_uuid``, if any."""
    return query.add_columns(Project.id, Project.capture_count).outerjoin(
        Project, (Project.uuid == bindparam("project_uuid")) & (Project.team_id == User.team_id)
    )


# Built once: building a statement and computing its cache key (by which SQLAlchemy finds
# its compiled form) took 0.2-0.3 ms a request, more than the statement's own round trip. A
# statement object remembers its cache key, so these pay it once per process.
_CALLER_STATEMENTS: dict[tuple[bool, bool], Select[Any]] = {
    (api_key, False): _caller_query(api_key=api_key) for api_key in (False, True)
} | {(api_key, True): _with_project(_caller_query(api_key=api_key)) for api_key in (False, True)}


def _caller_statement(
    bearer: str, *, with_project: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement that finds the caller behind ``bearer``, and its parameters."""
    api_key = bearer.startswith(secrets.API_KEY_PREFIX)
    parameters: dict[str, Any] = {"digest": secrets.hash_secret(bearer)}
    if not api_key:
        parameters["now"] = _now()
    return _CALLER_STATEMENTS[api_key, with_project], parameters


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def expire_tokens_of(session: Session, username: str) -> int:
    """Make every access token of a user expired now (tests use it to exercise renewal)."""
    user = _user_named(session, username)
    tokens = session.scalars(select(AccessToken).where(AccessToken.user_id == user.id)).all()
    for token in tokens:
        token.expires_at = _now() - timedelta(seconds=1)
    return len(tokens)


@dataclass(frozen=True)
class LoggedOut:
    access_tokens: int
    refresh_tokens: int


def logout_everywhere(session: Session, username: str) -> LoggedOut:
    """Revoke every access token and refresh token of a user (API keys stay: see
    :func:`revoke_api_key`). Every server refuses them from the next request on, as each
    request looks its token up in the database."""
    user = _user_named(session, username)
    access = session.execute(delete(AccessToken).where(AccessToken.user_id == user.id))
    refresh = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked.is_(False))
        .values(revoked=True)
    )
    return LoggedOut(access.rowcount or 0, refresh.rowcount or 0)  # type: ignore[attr-defined]


def set_user_active(session: Session, username: str, *, active: bool) -> bool:
    """Enable or disable a user; answers whether that changed anything.

    A disabled user cannot log in, and their tokens and API keys are refused. Disabling also
    revokes their tokens, so enabling them again does not bring old logins back (their API
    keys, unless revoked, work again).
    """
    user = _user_named(session, username)
    changed = user.is_active != active
    user.is_active = active
    if not active:
        logout_everywhere(session, username)
    return changed


@dataclass(frozen=True)
class ApiKeyInfo:
    prefix: str
    username: str
    created_at: datetime
    revoked: bool


def list_api_keys(session: Session, username: str | None = None) -> list[ApiKeyInfo]:
    """The API keys (their prefix, never the key), oldest first; of one user if named."""
    query = (
        select(ApiKey.prefix, User.username, ApiKey.created_at, ApiKey.revoked)
        .join(User, User.id == ApiKey.user_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    if username is not None:
        query = query.where(User.id == _user_named(session, username).id)
    return [
        ApiKeyInfo(prefix=row[0], username=row[1], created_at=_aware(row[2]), revoked=row[3])
        for row in session.execute(query)
    ]


def revoke_api_key(session: Session, key_or_prefix: str) -> ApiKeyInfo:
    """Revoke an API key given whole or by the prefix ``capturehub apikey list`` shows."""
    text = key_or_prefix.strip()
    if len(text) > len(secrets.API_KEY_PREFIX) + 16:  # a whole key
        condition = ApiKey.key_hash == secrets.hash_secret(text)
    else:
        condition = ApiKey.prefix == text
    keys = session.scalars(select(ApiKey).where(condition)).all()
    if not keys:
        raise NotFound(f"No API key {text!r}; see `capturehub apikey list`.")
    if len(keys) > 1:
        raise Conflict(f"Several API keys start with {text!r}; give the whole key.")
    key = keys[0]
    key.revoked = True
    user = session.get(User, key.user_id)
    return ApiKeyInfo(
        prefix=key.prefix,
        username=user.username if user else "?",
        created_at=_aware(key.created_at),
        revoked=True,
    )


def revoke_token(session: Session, token: str) -> None:
    """Revoke whatever secret ``token`` is: an access token, a refresh token or an API key
    (RFC 7009: holding it is the right to revoke it). Unknown tokens are ignored.

    A refresh token ends its whole login: every access and refresh token issued since that
    login (its refreshes included), as RFC 7009 2.1 asks, since a refresh token that leaked
    has had the time to mint access tokens. An access token ends only itself."""
    digest = secrets.hash_secret(token)
    session.execute(delete(AccessToken).where(AccessToken.token_hash == digest))
    grant_id = session.scalar(
        select(RefreshToken.grant_id).where(RefreshToken.token_hash == digest)
    )
    session.execute(
        update(RefreshToken).where(RefreshToken.token_hash == digest).values(revoked=True)
    )
    if grant_id is not None:
        session.execute(delete(AccessToken).where(AccessToken.grant_id == grant_id))
        session.execute(
            update(RefreshToken).where(RefreshToken.grant_id == grant_id).values(revoked=True)
        )
    if token.startswith((secrets.API_KEY_PREFIX, secrets.PROJECT_KEY_PREFIX)):
        session.execute(update(ApiKey).where(ApiKey.key_hash == digest).values(revoked=True))
