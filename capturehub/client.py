"""``Client``: the entry point of the SDK — log in, pick a project, reach its captures.

::

    from capturehub import Client

    client = Client(server="http://localhost:8000/", username="ada", password="...")
    client.project = "gait study"          # selected, created if missing
    client.project.captures.create_capture("walk 1", "walk1.csv")
    client.list_captures()                 # a pandas DataFrame
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import httpx

from capturehub._transport import (
    DEFAULT_TIMEOUT,
    Connection,
    Credentials,
    RetryPolicy,
    TokenListener,
    Tokens,
    TransferProgress,
)
from capturehub.datamanager.project import Project, Projects
from capturehub.exceptions import CapturehubError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SERVER = "http://localhost:8000/"
ENV_SERVER = "CAPTUREHUB_SERVER"
ENV_API_KEY = "CAPTUREHUB_API_KEY"
ENV_USERNAME = "CAPTUREHUB_USERNAME"
ENV_PASSWORD = "CAPTUREHUB_PASSWORD"


class Client:
    """An authenticated connection to a capturehub server, with a selected project.

    Args:
        server: the server's base URL, with or without a trailing slash, possibly under a path
            prefix (``http://host/api/``). Default: ``$CAPTUREHUB_SERVER``, else
            ``http://localhost:8000/``.
        username, password: log in through ``oauth/token/``; the token is renewed by itself.
        api_key: an API key (``capturehub apikey create``), used instead of a password.
            When no credentials are passed: ``$CAPTUREHUB_API_KEY``, else
            ``$CAPTUREHUB_USERNAME`` and ``$CAPTUREHUB_PASSWORD``.
        token, refresh_token: tokens saved from an earlier login (``client.tokens``), used
            instead of logging in again; renewed with the refresh token when the server says
            they expired (AuthenticationError when that is refused too and no password was
            given).
        on_tokens: called with the new :class:`Tokens` after every login and renewal, e.g. to
            save them (a refresh token can be used once: renewal replaces it).
        progress: called as ``progress(path, done)`` with a local file and how many of its
            bytes have been uploaded or downloaded so far (from 0 again when a transfer is
            retried), from the thread doing the transfer; for progress bars.
        project: a project name to select (created if missing), as ``client.project = name``.
        timeout: seconds (or an ``httpx.Timeout``) for each request; uploads wait up to 600 s
            for the server's answer.
        retries: how often a request is retried on connection errors and 502/503/504/429
            (idempotent requests only, except when the connection could not be opened).
        verify: TLS verification (False, or a CA bundle path, for self-signed servers).

    Raises AuthenticationError when the server refuses the credentials, ServerUnreachableError
    when it cannot be reached.
    """

    def __init__(
        self,
        server: str | None = None,
        username: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        *,
        project: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: TokenListener | None = None,
        progress: TransferProgress | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        verify: bool | str = True,
    ) -> None:
        server = server or os.environ.get(ENV_SERVER) or DEFAULT_SERVER
        if not (api_key or username or token):
            api_key = os.environ.get(ENV_API_KEY) or None
            if not api_key:
                username = os.environ.get(ENV_USERNAME) or None
                password = password if password is not None else os.environ.get(ENV_PASSWORD)
        saved = Tokens(token, refresh_token) if token else None
        credentials = Credentials(
            username=username, password=password, api_key=api_key, tokens=saved
        )
        self.connection = Connection(
            server,
            credentials,
            timeout=timeout,
            retry=RetryPolicy(retries=retries),
            verify=verify,
            on_tokens=on_tokens,
            progress=progress,
        )
        self.projects = Projects(self.connection)
        self._project: Project | None = None
        if project is not None:
            self.project = project

    @property
    def server(self) -> str:
        """The server's normalized base URL (always ending in ``/``)."""
        return self.connection.base_url

    @property
    def tokens(self) -> Tokens | None:
        """The current access and refresh tokens of a password (or token) login, to save and
        pass back as ``Client(token=..., refresh_token=...)``; None with an API key."""
        return self.connection.tokens.tokens

    @property
    def project(self) -> Project:
        """The selected project. Assign a name (or a Project) to select it; a name that does
        not exist yet is created."""
        if self._project is None:
            raise CapturehubError("no project selected: set client.project = 'project name' first")
        return self._project

    @project.setter
    def project(self, value: str | Project) -> None:
        if isinstance(value, Project):
            self._project = value
        else:
            self._project = self.projects.get_or_create(value)

    def team_info(self) -> dict[str, Any]:
        """The caller's team (``GET team-info/``): name, uuid…"""
        body = self.connection.get_json("team-info/")
        return dict(body)

    def list_projects(self) -> pd.DataFrame:
        """The team's projects: name, uuid, created_at, last_modified, description."""
        return self.projects.to_dataframe()

    def list_captures(self) -> pd.DataFrame:
        """The selected project's captures: name, uuid, created_at, last_modified,
        number_samples, set_sample_rate, calculated_sample_rate, task_state, format,
        file_size."""
        return self.project.captures.to_dataframe()

    def logout(self) -> None:
        """Log out on the server: it revokes this login's refresh token and access token, so
        neither works any more, on any server, wherever a copy of them was saved. The client
        cannot be used afterwards. With an API key nothing is revoked (an administrator
        revokes keys: ``capturehub apikey revoke``), but the client is unusable all the same.
        Raises ServerUnreachableError (and stays logged in) when the server cannot be reached.
        """
        self.connection.logout()

    def close(self) -> None:
        """Close the connection pool (also done when used as a context manager)."""
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        project = self._project.name if self._project is not None else None
        return f"<Client server={self.server!r} project={project!r}>"
