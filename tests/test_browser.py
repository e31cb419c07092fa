"""A real browser (headless Chromium, driven by Playwright) against a baked service under Hypercorn.

What a browser adds over plain HTTP tests: the HTML log-in redirect and form, the cookie flags
as the browser stores them, Fetch Metadata (``Sec-Fetch-Site``) that only a browser sends, and a
cross-site form post from another origin, which the service must refuse with 403.

Chromium comes from Debian (``/usr/bin/chromium``, installed by ``scripts/bootstrap``); the
test never downloads Playwright's own browsers, and it fails (not skips) without Chromium.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from live import PASSWORD, LiveService, live_service
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def server(baked_default: Path, tmp_path: Path) -> Iterator[LiveService]:
    """The baked service with user alice, listening on 127.0.0.1."""
    with live_service(baked_default, tmp_path) as live:
        yield live


@pytest.fixture
def other_site(server: LiveService) -> Iterator[str]:
    """A page on another site (``localhost``, not ``127.0.0.1``) that auto-submits a form
    POST to the service's ``/auth/logout``, as a cross-site request forgery would."""
    page = (
        "<!doctype html><title>elsewhere</title>"
        f'<form method="post" action="{server.url}/auth/logout"></form>'
        "<script>document.forms[0].submit()</script>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; a missing Chromium fails the test (it is not skipped)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium is missing: {CHROMIUM} is not an executable file. Install Debian's "
            "chromium package (scripts/bootstrap does); do not run `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def expect_login_page(page: Page, server: LiveService, next_path: str) -> None:
    parts = urlsplit(page.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{server.url}/auth/login"
    assert parse_qs(parts.query) == {"next": [next_path]}
    form = page.locator("form")
    expect(form).to_be_visible()
    expect(form.locator("input[name=username]")).to_be_visible()
    expect(form.locator("input[name=password]")).to_be_visible()
    expect(form.locator("input[name=remember][type=checkbox]")).to_be_visible()
    expect(form.locator("input[name=next][type=hidden]")).to_have_value(next_path)


def submit_login(page: Page, password: str) -> Response:
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation() as navigation:
        page.locator("form button[type=submit]").click()
    return navigation.value


def test_browser_login_csrf_and_logout(
    server: LiveService, other_site: str, tmp_path: Path
) -> None:
    with launch_chromium() as browser:
        browse(browser, server, other_site, tmp_path)
    # The browser is gone, so no keep-alive connection holds the server up.
    returncode = server.stop()
    assert returncode == 0, server.output()


def browse(browser: Browser, server: LiveService, other_site: str, tmp_path: Path) -> None:
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()

    # 1. A browser asking for a protected page is sent to the HTML log-in form.
    response = page.goto("/auth/me")
    assert response is not None
    assert response.status == 200
    redirected = response.request.redirected_from
    assert redirected is not None
    assert redirected.url == f"{server.url}/auth/me"
    expect_login_page(page, server, next_path="/auth/me")
    screenshot = tmp_path / "login.png"
    page.screenshot(path=screenshot)
    assert screenshot.stat().st_size > len(PNG_SIGNATURE)
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)

    # 2. A wrong password: the browser shows the JSON 401 error body.
    response = submit_login(page, "not the right password")
    assert response.status == 401, response.text()
    assert response.json()["error"]["status"] == 401
    expect(page.locator("body")).to_contain_text('"status":401')

    # 3. Back to the form; the right password: 303 to the (safe) next page, /auth/me.
    page.go_back()
    expect_login_page(page, server, next_path="/auth/me")
    response = submit_login(page, PASSWORD)
    assert response.status == 200, response.text()
    posted = response.request.redirected_from
    assert posted is not None
    assert posted.method == "POST"
    login_reply = posted.response()
    assert login_reply is not None
    assert login_reply.status == 303
    assert urlsplit(page.url).path == "/auth/me"
    assert response.json()["username"] == "alice"
    expect(page.locator("body")).to_contain_text("alice")

    # 4. The session cookie is HttpOnly and SameSite=Lax, as sent and as the browser stored it.
    # (Chromium reports "Lax" for a cookie without SameSite too, hence the Set-Cookie check.)
    sent = SimpleCookie()
    for header in login_reply.header_values("set-cookie"):
        sent.load(header)
    assert "session" in sent, login_reply.header_values("set-cookie")
    assert sent["session"]["httponly"] is True
    assert sent["session"]["samesite"] == "Lax"
    cookies = {cookie.get("name"): cookie for cookie in context.cookies()}
    assert "session" in cookies, cookies
    assert cookies["session"].get("httpOnly") is True
    assert cookies["session"].get("sameSite") == "Lax"

    # 5. A form on another site posting to /auth/logout is refused, and alice stays logged in.
    with page.expect_response(f"{server.url}/auth/logout") as forged:
        # "commit": the page's form post navigates away before the page itself finishes loading.
        page.goto(other_site, wait_until="commit")
    response = forged.value
    assert response.request.all_headers().get("sec-fetch-site") in ("cross-site", "same-site")
    assert response.status == 403, f"the cross-site logout was answered {response.status}"
    assert response.json()["error"]["status"] == 403
    response = page.goto("/auth/me")
    assert response is not None
    assert response.status == 200
    expect(page.locator("body")).to_contain_text("alice")

    # 6. A same-origin logout works. It is a form post from the service's own log-in page, not
    # fetch(): every response carries CSP "default-src 'none'", which blocks fetch/XHR there.
    page.goto("/auth/login")
    with page.expect_response(f"{server.url}/auth/logout") as logout:
        page.evaluate(
            """() => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = "/auth/logout";
                document.body.append(form);
                form.submit();
            }"""
        )
    response = logout.value
    assert response.request.all_headers().get("sec-fetch-site") == "same-origin"
    assert response.status == 204
    page.goto("/auth/me")
    expect_login_page(page, server, next_path="/auth/me")

    context.close()
