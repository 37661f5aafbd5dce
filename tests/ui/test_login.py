"""Logging in and out of the web UI, the session cookie, and CSRF."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import RunningServer
from tests.servers import stranger_address
from tests.ui.conftest import Browsing
from tests.ui.helpers import session_cookie


def test_log_in_and_out_with_the_form(
    page: Page, context: BrowserContext, server: RunningServer
) -> None:
    page.goto(server.url)
    # Not logged in: the login page, which comes back to the asked page afterwards.
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill(server.username)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_text(server.username)).to_be_visible()

    cookie = next(c for c in context.cookies() if c["name"] == "capturehub_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # served over plain http here; https gets Secure
    # No token in the URL, nor readable by the page's scripts.
    assert cookie["value"] not in page.url
    assert page.evaluate("document.cookie") == ""

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # The session is over on the server too: the old cookie no longer opens a page.
    with httpx.Client(base_url=server.url, cookies={"capturehub_session": cookie["value"]}) as h:
        assert h.get("").status_code == 303
        assert h.get("project/").status_code == 401


def test_a_wrong_password_is_refused_in_words(page: Page, server: RunningServer) -> None:
    page.set_extra_http_headers(stranger_address())  # keep 127.0.0.1's login budget
    page.goto(server.url + "login/")
    page.get_by_label("Username").fill(server.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Username")).to_be_visible()


def test_a_state_changing_request_without_the_csrf_token_is_refused(server: RunningServer) -> None:
    cookie = session_cookie(server.url, server.main)
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=server.url, cookies={"capturehub_session": cookie}) as browser:
        # The API with the cookie alone: reads work, changes need the page's token.
        assert browser.get("project/").status_code == 200
        refused = browser.post("project/", json={"name": name})
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        wrong = browser.post("project/", json={"name": name}, headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status_code == 403
        # A page's form without it: refused too.
        assert browser.post("projects/", data={"name": name}).status_code == 403
        assert name not in [p["name"] for p in browser.get("project/").json()]
        # With the token the page carries, the same request is accepted.
        page = browser.get("").text
        token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page)
        assert token
        created = browser.post("project/", json={"name": name}, headers={"X-CSRF-Token": token[1]})
        assert created.status_code == 201, created.text


def test_pages_send_a_content_security_policy_without_inline_scripts(ui: Browsing) -> None:
    response = ui.page.goto(ui.server.url)
    assert response is not None
    policy = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src and "'unsafe-inline'" not in script_src[1]
    assert "frame-ancestors 'none'" in policy


def test_the_session_cookie_is_secure_when_served_over_https(server: RunningServer) -> None:
    # A trusted proxy (loopback, by default) that terminated TLS says so in X-Forwarded-Proto.
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=server.url, headers=https, timeout=60) as http:
        form = http.get("login/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        # The login cookie is Secure too, so httpx (on http://) would not send it back.
        login_cookie = form.cookies.get("capturehub_login") or ""
        response = http.post(
            "login/",
            data={"username": server.username, "password": server.password, "csrf_token": token[1]},
            cookies={"capturehub_login": login_cookie},
        )
        assert response.status_code == 303, response.text
        set_cookie = response.headers["set-cookie"].lower()
        assert "capturehub_session=" in set_cookie
        for flag in ("secure", "httponly", "samesite=lax"):
            assert flag in set_cookie, set_cookie
