"""The rules of logging in: users, tokens, API keys, login rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from capturehub.server.auth import secrets
from capturehub.server.errors import APIError, Conflict, NotFound, TooManyRequests
from capturehub.server.models import (
    AccessToken,
    ApiKey,
    LoginAttempt,
    RefreshToken,
    Team,
    User,
)
from capturehub.server.settings import Settings

# Failed logins per user name allowed in LOGIN_WINDOW before answers become 429.
MAX_FAILED_LOGINS = 10
LOGIN_WINDOW = timedelta(minutes=1)


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


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def _issue(session: Session, user: User, settings: Settings) -> IssuedTokens:
    access, refresh = secrets.new_token(), secrets.new_token()
    now = _now()
    session.add(
        AccessToken(
            user_id=user.id,
            token_hash=secrets.hash_secret(access),
            expires_at=now + timedelta(seconds=settings.access_token_ttl_seconds),
        )
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=secrets.hash_secret(refresh),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return IssuedTokens(access, refresh, settings.access_token_ttl_seconds)


def _check_rate_limit(session: Session, username: str) -> None:
    since = _now() - LOGIN_WINDOW
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.attempted_at > since)
    )
    if (failures or 0) >= MAX_FAILED_LOGINS:
        raise TooManyRequests(
            f"Too many failed logins for {username!r}; wait a minute and try again.",
            headers={"Retry-After": str(int(LOGIN_WINDOW.total_seconds()))},
        )


def record_failed_login(session: Session, username: str) -> None:
    session.add(LoginAttempt(username=username[:255]))
    # Keep the table small: attempts older than the window no longer matter.
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < _now() - LOGIN_WINDOW))


def login(session: Session, username: str, password: str, settings: Settings) -> IssuedTokens:
    """Password grant. A failure raises :class:`InvalidGrant` after recording the attempt.

    The caller must commit even on failure so the attempt counts (see the token route).
    """
    _check_rate_limit(session, username)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        secrets.verify_password(secrets.DUMMY_PASSWORD_HASH, password)
        raise InvalidGrant("Invalid credentials given.")
    if not user.is_active or not secrets.verify_password(user.password_hash, password):
        raise InvalidGrant("Invalid credentials given.")
    return _issue(session, user, settings)


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
    return _issue(session, user, settings)


def authenticate(session: Session, bearer: str) -> Caller | None:
    """The caller behind an access token or API key, or None."""
    digest = secrets.hash_secret(bearer)
    if bearer.startswith(secrets.API_KEY_PREFIX):
        row = session.execute(
            select(User.id, User.team_id, User.username)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == digest, ApiKey.revoked.is_(False), User.is_active)
        ).first()
    else:
        row = session.execute(
            select(User.id, User.team_id, User.username)
            .join(AccessToken, AccessToken.user_id == User.id)
            .where(
                AccessToken.token_hash == digest,
                AccessToken.expires_at > _now(),
                User.is_active,
            )
        ).first()
    if row is None:
        return None
    return Caller(user_id=row[0], team_id=row[1], username=row[2])


def expire_tokens_of(session: Session, username: str) -> int:
    """Make every access token of a user expired now (used by tests and `user logout-all`)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    tokens = session.scalars(select(AccessToken).where(AccessToken.user_id == user.id)).all()
    for token in tokens:
        token.expires_at = _now() - timedelta(seconds=1)
    return len(tokens)
