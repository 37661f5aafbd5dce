"""The logins ``capturehub login`` saves: one per server, in the user's config folder.

The file (``$XDG_CONFIG_HOME/capturehub/credentials.json``, by default
``~/.config/capturehub/credentials.json``; ``%APPDATA%\\capturehub`` on Windows) holds the access
and refresh tokens of each server logged in to, never a password, and which server is current.
It is written atomically with mode 0600 inside a 0700 folder: other users cannot read it, and a
command killed while saving leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from capturehub._transport import Tokens, normalize_base_url

ENV_CONFIG_HOME = "XDG_CONFIG_HOME"
FILE_NAME = "credentials.json"


def config_dir() -> Path:
    """The folder of capturehub's user configuration."""
    base = os.environ.get(ENV_CONFIG_HOME)
    if base:
        return Path(base) / "capturehub"
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "capturehub"
    return Path.home() / ".config" / "capturehub"


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass(frozen=True)
class SavedLogin:
    """One server's saved login."""

    server: str
    username: str
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None

    @property
    def tokens(self) -> Tokens:
        return Tokens(self.access_token, self.refresh_token, self.expires_at)


class CredentialStore:
    """Reads and writes the credentials file; safe to update from several threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or credentials_path()
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"current": None, "servers": {}}
        except (OSError, ValueError) as exc:
            raise OSError(
                f"cannot read the saved logins in {self.path} ({exc}); delete the file and "
                "log in again"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            return {"current": None, "servers": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600 before anything is written to it.
        descriptor, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=".credentials-", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w") as output:
                json.dump(data, output, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @property
    def current_server(self) -> str | None:
        """The server of the last login, if any."""
        current = self._read().get("current")
        return current if isinstance(current, str) else None

    def get(self, server: str) -> SavedLogin | None:
        """The saved login for ``server`` (any spelling of its URL), or None."""
        key = normalize_base_url(server)
        entry = self._read()["servers"].get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        return SavedLogin(
            server=key,
            username=str(entry.get("username") or ""),
            access_token=entry["access_token"],
            refresh_token=entry.get("refresh_token"),
            expires_at=entry.get("expires_at"),
        )

    def save(self, login: SavedLogin, *, make_current: bool = True) -> None:
        with self._lock:
            data = self._read()
            entry = asdict(login)
            key = normalize_base_url(entry.pop("server"))
            data["servers"][key] = entry
            if make_current:
                data["current"] = key
            self._write(data)

    def update_tokens(self, server: str, tokens: Tokens) -> None:
        """Replace a saved login's tokens after the SDK renewed them (refresh tokens rotate)."""
        login = self.get(server)
        if login is None:
            return
        self.save(
            SavedLogin(
                server=login.server,
                username=login.username,
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=tokens.expires_at,
            ),
            make_current=False,
        )

    def remove(self, server: str) -> bool:
        """Forget the login for ``server``; answers whether there was one."""
        key = normalize_base_url(server)
        with self._lock:
            data = self._read()
            if data["servers"].pop(key, None) is None:
                return False
            if data.get("current") == key:
                data["current"] = next(iter(data["servers"]), None)
            self._write(data)
            return True
