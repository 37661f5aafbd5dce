"""Real capturehub servers for tests: a uvicorn process on a free loopback port.

Each :class:`ServerProcess` has its own data directory and, for PostgreSQL, its own freshly
created database, so test runs never see each other's data.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTUREHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("CAPTUREHUB_REQUIRE_SERVICES") == "1"


def stranger_address() -> dict[str, str]:
    """Headers that make a request count as coming from a fresh client address (the server
    trusts X-Forwarded-For from loopback by default), so that a test's failed logins do not
    use up the login budget of 127.0.0.1, which every other test logs in from."""
    return {"X-Forwarded-For": f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it cannot be used."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"


def create_postgres_database() -> str:
    import psycopg

    name = f"capturehub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Account:
    username: str
    password: str
    team: str
    api_key: str = ""


@dataclass
class ServerProcess:
    backend: str
    data_dir: Path
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def settings_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CAPTUREHUB_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["CAPTUREHUB_DATABASE_URL"] = self.database_url
        env.update(self.env)
        return env

    def start(self, **extra_env: str) -> None:
        self.env.update(extra_env)
        if not self.port:
            self.port = free_port()
        self.log_path = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "capturehub.cli.main",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.settings_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log()}")
            try:
                if httpx.get(self.url + "version/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in 60 s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-5000:]
        return ""

    def context(self) -> Any:
        """An in-process handle on this server's database and blobs (for setup and checks)."""
        from capturehub.server.db import upgrade
        from capturehub.server.runtime import build_context
        from capturehub.server.settings import Settings

        settings = Settings(data_dir=self.data_dir, database_url=self.database_url)
        context = build_context(settings)
        upgrade(context.db.engine)
        return context

    def create_account(self, username: str, team: str) -> Account:
        from capturehub.server.auth import service

        password = f"pw-{uuid.uuid4().hex[:12]}"
        context = self.context()
        try:
            with context.db.session() as session:
                service.create_user(session, username, password, team)
            with context.db.session() as session:
                key = service.create_api_key(session, username)
        finally:
            context.db.dispose()
        return Account(username=username, password=password, team=team, api_key=key)

    def token(self, account: Account) -> str:
        """An access token for ``account``, by the password grant."""
        response = httpx.post(
            self.url + "oauth/token/",
            data={
                "grant_type": "password",
                "username": account.username,
                "password": account.password,
            },
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def http(self, account: Account, timeout: float = 120) -> httpx.Client:
        """An HTTP client of this server logged in as ``account``."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(account)}"},
            timeout=timeout,
        )

    def expire_tokens(self, username: str) -> None:
        from capturehub.server.auth import service

        context = self.context()
        try:
            with context.db.session() as session:
                service.expire_tokens_of(session, username)
        finally:
            context.db.dispose()

    def close(self) -> None:
        self.stop()
        if self.database_url and self.backend == "postgresql":
            drop_postgres_database(self.database_url)


def new_server(backend: str, data_dir: Path) -> ServerProcess:
    database_url = create_postgres_database() if backend == "postgresql" else None
    return ServerProcess(backend=backend, data_dir=data_dir, database_url=database_url)
