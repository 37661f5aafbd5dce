"""The web UI's tests: Playwright driving Debian's Chromium (/usr/bin/chromium, installed by
``apt-get install chromium``; `.ci/run` installs it when missing) against the real test
servers, on SQLite and PostgreSQL. Without Chromium the tests skip with the reason, except
under CAPTUREHUB_REQUIRE_SERVICES=1, where that is a failure. Playwright's own browser
downloads are never used (``playwright install`` cannot run here).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.conftest import RunningServer
from tests.servers import REQUIRE_SERVICES, Account
from tests.ui.helpers import session_cookie

CHROMIUM = Path("/usr/bin/chromium")
EXPECTED_REFUSAL = "Failed to load resource: the server responded with a status of 4"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, pointed at Debian's Chromium."""
    require_chromium()
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": ["--no-sandbox", "--disable-dev-shm-usage"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}}


_cookies: dict[tuple[str, str], str] = {}


def log_in(context: BrowserContext, server: RunningServer, account: Account | None = None) -> None:
    account = account or server.main
    key = (server.url, account.username)
    if key not in _cookies:  # one login per account and server: argon2 is slow on purpose
        _cookies[key] = session_cookie(server.url, account)
    context.add_cookies(
        [
            {
                "name": "capturehub_session",
                "value": _cookies[key],
                "url": server.url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


@dataclass
class Browsing:
    """A page logged in as the main account of ``server``, and what went wrong in it."""

    page: Page
    server: RunningServer
    console_errors: list[str]
    dialogs: list[str]

    def goto(self, path: str) -> None:
        self.page.goto(self.server.url + path.lstrip("/"))

    def api(self, account: Account | None = None) -> httpx.Client:
        return self.server.http(account)


@pytest.fixture
def ui(page: Page, context: BrowserContext, server: RunningServer) -> Iterator[Browsing]:
    log_in(context, server)
    errors: list[str] = []
    dialogs: list[str] = []

    def on_console(message: Any) -> None:
        # A refused request (4xx) is logged by the browser; the page shows its words.
        if message.type == "error" and not message.text.startswith(EXPECTED_REFUSAL):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    browsing = Browsing(page=page, server=server, console_errors=errors, dialogs=dialogs)
    yield browsing
    # A page that breaks its Content-Security-Policy or throws says so in the console.
    assert not errors, errors


@dataclass
class WatchProject:
    uuid: str
    name: str
    manifest: list[dict[str, Any]]

    def names(self, **metadata: str) -> set[str]:
        return {
            Path(entry["file"]).name
            for entry in self.manifest
            if all(str(entry["metadata"].get(k)) == v for k, v in metadata.items())
        }


@pytest.fixture(scope="session")
def watch(
    server: RunningServer, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> WatchProject:
    """The watch recordings uploaded with their manifest (metadata, segments) by the
    ``capturehub upload`` command, once per database."""
    from tests.cli.conftest import run_cli

    name = f"watch-{uuid.uuid4().hex[:8]}"
    folder = shared_data / "watch"
    result = run_cli(
        ["upload", str(folder), "--project", name, "--manifest", str(folder / "manifest.json")],
        env={
            "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("config")),
            "CAPTUREHUB_SERVER": server.url,
            "CAPTUREHUB_API_KEY": server.api_key,
        },
    )
    assert result.exit_code == 0, result.output
    with server.http() as http:
        project = next(p for p in http.get("project/").json() if p["name"] == name)
    manifest = json.loads((folder / "manifest.json").read_text())
    return WatchProject(uuid=project["uuid"], name=name, manifest=manifest)
