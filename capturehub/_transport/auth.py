"""Credentials and the bearer token they yield, renewed once when the server says 401.

Two modes (wire-api §2): a username and password are exchanged for an access token and a
refresh token at ``oauth/token/``; an API key is sent as the bearer token itself. Tokens saved
from an earlier login (``capturehub login``) may be given instead of the password. When a
request is answered 401 the connection asks :meth:`TokenManager.renew` for a new token: first
with the refresh token, then, if that is refused, by logging in again with the password (when
there is one). A lock and a generation counter make concurrent 401s (``upload_many``'s
threads) renew once, not once per thread: refresh tokens rotate, so a second refresh with the
same token would be refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capturehub.exceptions import APIError, AuthenticationError

# Posts a form to oauth/token/ without authentication and answers the decoded JSON body
# (raising the SDK's exceptions). Injected by the connection, which owns the HTTP client.
TokenPoster = Callable[[dict[str, str]], Any]
# Sends an authenticated GET team-info/ with the given bearer token.
KeyChecker = Callable[[str], Any]


@dataclass(frozen=True)
class Tokens:
    """The tokens a password login yields: save them to log in later without the password."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # Unix time, when the server said

    def __repr__(self) -> str:  # never print secrets
        return f"Tokens(access_token=***, expires_at={self.expires_at!r})"


# Called with the new tokens after every login or renewal (e.g. to save them: refresh tokens
# rotate, so a saved one is spent once it has been used).
TokenListener = Callable[[Tokens], None]


@dataclass(frozen=True)
class Credentials:
    """What the user gave to log in: a username and password, an API key, or saved tokens."""

    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    tokens: Tokens | None = None

    def __post_init__(self) -> None:
        if self.api_key or self.tokens:
            return
        if not self.username or self.password is None:
            raise AuthenticationError(
                "no credentials: pass username= and password=, or api_key= (or set "
                "CAPTUREHUB_API_KEY, or CAPTUREHUB_USERNAME and CAPTUREHUB_PASSWORD)"
            )

    @property
    def has_password(self) -> bool:
        return bool(self.username) and self.password is not None

    def __repr__(self) -> str:  # never print secrets
        if self.api_key:
            who = "api_key=***"
        elif self.has_password:
            who = f"username={self.username!r}, password=***"
        else:
            who = "tokens=***"
        return f"Credentials({who})"


class TokenManager:
    """Holds the current bearer token and renews it; safe to share between threads."""

    def __init__(
        self,
        credentials: Credentials,
        post_token: TokenPoster,
        check_key: KeyChecker,
        on_tokens: TokenListener | None = None,
    ):
        self._credentials = credentials
        self._post_token = post_token
        self._check_key = check_key
        self._on_tokens = on_tokens
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self.expires_at: float | None = None
        self.generation = 0
        self._is_logged_out = False

    @property
    def uses_api_key(self) -> bool:
        return bool(self._credentials.api_key)

    @property
    def tokens(self) -> Tokens | None:
        """The current tokens (None with an API key, or before the first login)."""
        with self._lock:
            if self._credentials.api_key or self._access_token is None:
                return None
            return Tokens(self._access_token, self._refresh_token, self.expires_at)

    def login(self) -> None:
        """Obtain a first token (or check the API key), raising AuthenticationError if refused.

        Saved tokens are taken as they are, without a request: the first request that is
        answered 401 renews them (or raises AuthenticationError if they cannot be renewed).
        """
        with self._lock:
            saved = self._credentials.tokens
            if self._credentials.api_key:
                self._check_api_key(self._credentials.api_key)
            elif saved is not None:
                self._access_token = saved.access_token
                self._refresh_token = saved.refresh_token
                self.expires_at = saved.expires_at
            else:
                self._password_login()
            self.generation += 1

    def logged_out(self) -> Tokens | None:
        """Forget the tokens (answering them, to be revoked) and refuse every further request:
        after a logout the client never logs in again by itself, not even with a password."""
        with self._lock:
            tokens = None
            if self._access_token is not None and not self._credentials.api_key:
                tokens = Tokens(self._access_token, self._refresh_token, self.expires_at)
            self._access_token = self._refresh_token = None
            self._is_logged_out = True
            self.generation += 1
            return tokens

    def authorization(self) -> tuple[int, str]:
        """The ``Authorization`` header value and the generation of the token it holds."""
        with self._lock:
            if self._is_logged_out:
                raise AuthenticationError("logged out: create a new Client to log in again")
            token = self._credentials.api_key or self._access_token
            if token is None:
                raise AuthenticationError("not logged in")
            return self.generation, f"Bearer {token}"

    def renew(self, failed_generation: int) -> None:
        """Replace the token that was answered 401, unless another thread already did."""
        with self._lock:
            if self.generation != failed_generation:
                return
            if self._is_logged_out:
                raise AuthenticationError("logged out: create a new Client to log in again")
            if self._credentials.api_key:
                raise AuthenticationError(
                    "the server refused the API key (revoked or unknown); create a new one "
                    "with `capturehub apikey create`",
                    status_code=401,
                )
            if self._refresh_token and self._try_refresh(self._refresh_token):
                self.generation += 1
                return
            if not self._credentials.has_password:
                raise AuthenticationError(
                    "the saved login has expired and could not be renewed; log in again",
                    status_code=401,
                )
            self._password_login()
            self.generation += 1

    def _try_refresh(self, refresh_token: str) -> bool:
        try:
            body = self._post_token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        except APIError:  # refused or expired: fall back to the password
            return False
        self._store(body)
        return True

    def _password_login(self) -> None:
        credentials = self._credentials
        assert credentials.username is not None and credentials.password is not None
        try:
            body = self._post_token(
                {
                    "grant_type": "password",
                    "username": credentials.username,
                    "password": credentials.password,
                }
            )
        except APIError as exc:
            if exc.status_code is not None and exc.status_code < 500:
                raise AuthenticationError(
                    f"login as {credentials.username!r} refused: {exc.detail}",
                    status_code=exc.status_code,
                    method=exc.method,
                    url=exc.url,
                ) from None
            raise
        self._store(body)

    def _check_api_key(self, api_key: str) -> None:
        try:
            self._check_key(api_key)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"the server refused the API key: {exc.detail}",
                status_code=exc.status_code,
                method=exc.method,
                url=exc.url,
            ) from None

    def _store(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise AuthenticationError(f"unexpected answer from oauth/token/: {body!r:.200}")
        self._access_token = body["access_token"]
        self._refresh_token = body.get("refresh_token") or self._refresh_token
        expires_in = body.get("expires_in")
        self.expires_at = time.time() + expires_in if isinstance(expires_in, int | float) else None
        if self._on_tokens is not None:
            self._on_tokens(Tokens(self._access_token, self._refresh_token, self.expires_at))
