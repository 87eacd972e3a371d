"""The Settings > Private Integrations page, end to end in headless Chromium (Debian's package, driven
by Playwright) against the real `make run` server (one per module). Screenshots go to artifacts/, at
desktop width and at 420 px (a phone)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
SECRET = "browser-test-session-secret-0123456789abcdef"
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root")
    pytest.skip(
        f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright  # noqa: E402

from local.github_signing import PATH, GitHubKey, body_of, match, write_keys  # noqa: E402
from tests.support.dev_server import DevServer  # noqa: E402

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 420, "height": 860}


def session_for(user_id: str, seconds: int = 3600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + seconds}, SECRET, algorithm="HS256")


class Server(DevServer):
    def status(self, method: str, path: str, token: str, body: Any = None) -> int:
        return self.call(method, path, token, body)[0]

    def create(self, owner: str, name: str, scopes: list[str]) -> dict[str, Any]:
        status, body = self.call(
            "POST",
            f"/{owner}/private-integrations",
            session_for("user-admin"),
            {"name": name, "scopes": scopes},
        )
        assert status == 201, body
        return dict(body)

    def delete_all(self, owner: str) -> None:
        admin = session_for("user-admin")
        for item in self.call("GET", f"/{owner}/private-integrations", admin)[1]["privateIntegrations"]:
            assert self.status("DELETE", f"/private-integrations/{item['id']}", admin) == 204


GITHUB = GitHubKey()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="pi-github-keys-") as folder:
        keys = write_keys(Path(folder) / "keys.json", GITHUB)
        running = Server({"PI_SESSION_SECRET": SECRET, "PI_GITHUB_KEYS_FILE": str(keys)})
        yield running
        running.stop()


def github_reports(server: Server, token: str, url: str, source: str) -> list[dict[str, str]]:
    """GitHub's secret scanning POSTs a signed match of the token to the running server."""
    raw = body_of([match(token, url, source)])
    request = urllib.request.Request(server.base + PATH, data=raw, method="POST", headers=GITHUB.headers(raw))
    with urllib.request.urlopen(request, timeout=10) as response:
        return list(json.loads(response.read()))


def _browser_page(viewport: ViewportSize) -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
        page = context.new_page()
        # The page runs under a CSP without 'unsafe-inline': anything it refuses shows up here.
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: refused.append(f"uncaught: {error}"))
        yield page
        browser.close()
    assert refused == []


@pytest.fixture
def page(server: Server) -> Iterator[Page]:
    yield from _browser_page(DESKTOP)


@pytest.fixture
def phone(server: Server) -> Iterator[Page]:
    yield from _browser_page(PHONE)


def open_as(page: Page, server: Server, user_id: str) -> None:
    """The user opens the page's link in a fresh tab (nothing stored: no question to switch)."""
    page.goto(f"{server.base}/assets/app.css")
    page.evaluate("sessionStorage.clear()")
    page.goto("about:blank")  # a new load, not just a new #fragment on the same document
    page.goto(f"{server.base}/#session={session_for(user_id)}")


def test_a_link_with_another_users_session_asks_before_switching(page: Page, server: Server) -> None:
    """Sign-in CSRF: a link carrying someone else's session must not replace the stored one silently."""
    open_as(page, server, "user-admin")
    expect(page.locator("#who")).to_contain_text("Signed in as user-admin")
    mine = stored_session(page)
    page.goto("about:blank")
    page.goto(f"{server.base}/#session={session_for('user-staff')}")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("user-admin")
    expect(dialog).to_contain_text("user-staff")
    assert stored_session(page) == mine and "#session" not in page.url
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#who")).to_contain_text("Signed in as user-admin")
    assert stored_session(page) == mine
    # Asked again, and this time the user switches.
    page.goto("about:blank")
    page.goto(f"{server.base}/#session={session_for('user-staff')}")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Switch to user-staff", exact=True).click()  # named for the action
    expect(page.locator("#who")).to_contain_text("Signed in as user-staff")
    # The same session again (a reload of the banner's link) is not a question.
    same = stored_session(page)
    page.goto("about:blank")
    page.goto(f"{server.base}/#session={same}")
    expect(page.locator("#who")).to_contain_text("Signed in as user-staff")
    expect(dialog).to_be_hidden()


def menu_action(page: Page, name: str, action: str) -> None:
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("button", name=action, exact=True).click()


def confirm(page: Page, says: str, button: str, danger: bool = True) -> None:
    """The confirmation says `says` and is answered by a button named for the action, red when it
    stops a token or deletes."""
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(says)
    answer = dialog.get_by_role("button", name=button, exact=True)
    expect(answer).to_have_class("danger" if danger else "primary")
    if danger:
        expect(answer).to_have_css("background-color", "rgb(180, 35, 24)")  # --bad
    answer.click()
    expect(dialog).to_be_hidden()


def take_token(page: Page) -> str:
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    token = page.locator("#token-value").inner_text()
    assert token.startswith("pit-")
    page.get_by_role("button", name="Done", exact=True).click()
    expect(dialog).to_be_hidden()
    return token


def success(page: Page, text: str) -> None:
    expect(page.locator("#message.success")).to_contain_text(text)
    expect(page.locator("#error")).to_be_hidden()


def curl_status(server: Server, token: str, path: str) -> int:
    """What a user's app sees: a real curl call with the token."""
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Version: 2021-07-28",
            server.base + path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(result.stdout)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def sign_in_with_box(page: Page, pasted: str) -> None:
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#session-input", pasted)
    page.get_by_role("button", name="Sign in", exact=True).click()


def stored_session(page: Page) -> Any:
    return page.evaluate("sessionStorage.getItem('session')")


CONTACTS = "/contacts/?locationId=loc-downtown"


def test_the_first_hour(page: Page, server: Server) -> None:
    server.delete_all("locations/loc-downtown")
    # A bad session: said so, the sign-in box stays, and a reload is not a dead end.
    page.goto(server.base + "/")
    shot(page, "signed-out.png")
    sign_in_with_box(page, "not-a-session")
    expect(page.locator("#error")).to_contain_text("The session token is invalid")
    expect(page.locator("#sign-in")).to_be_visible()
    assert stored_session(page) is None
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()

    # Sign in by pasting the line `make run` / `make session` printed.
    sign_in_with_box(page, f"export SESSION={session_for('user-admin')}")
    expect(page.locator("#who")).to_contain_text("Signed in as user-admin")
    page.select_option("#owner", label="Sub-account: Downtown Dental")
    expect(page.locator("#owner-caption")).to_have_text("Sub-account: Downtown Dental")

    # The empty state says what an integration is for and offers Create.
    empty = page.locator("#empty")
    expect(empty).to_contain_text("No private integrations for Downtown Dental yet")
    expect(empty).to_contain_text("limited to the scopes you choose")
    expect(page.locator("#list")).to_be_hidden()
    shot(page, "empty.png")

    # Create: step 1 name and description, step 2 scopes (grouped, described, only location ones).
    empty.get_by_role("button", name="Create your first integration").click()
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.locator("#name-error")).to_contain_text("name is required")  # next to its field
    page.fill("#name", "CRM sync")
    page.fill("#description", "Nightly export")
    page.get_by_role("button", name="Next", exact=True).click()
    create = page.get_by_role("button", name="Create", exact=True)
    expect(create).to_be_disabled()  # no scope chosen yet
    expect(page.locator("#scope-count")).to_contain_text("Choose at least one scope")
    assert page.locator("input[data-scope='locations.write']").count() == 0  # agency-only scope
    expect(page.locator("label", has_text="contacts.readonly")).to_contain_text("View contacts")
    page.get_by_role("button", name="Select all contacts").click()
    expect(page.locator("input[data-scope='contacts.write']")).to_be_checked()
    expect(page.locator("#scope-count")).to_have_text("2 scopes selected")
    page.get_by_role("button", name="Clear contacts").click()
    expect(page.locator("input[data-scope='contacts.readonly']")).not_to_be_checked()
    expect(create).to_be_disabled()
    page.fill("#scope-search", "view contacts")  # descriptions are searched too
    page.check("input[data-scope='contacts.readonly']")
    page.fill("#scope-search", "locations.readonly")
    page.check("input[data-scope='locations.readonly']")
    page.fill("#scope-search", "")
    expect(page.locator("#scope-count")).to_have_text("2 scopes selected")
    shot(page, "scope-picker.png")
    create.click()

    # The token once; copy it.
    expect(page.locator("#token-dialog")).to_be_visible()
    expect(page.locator("#token-dialog")).to_contain_text("cannot be retrieved again")
    shot(page, "token-dialog.png")
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    first = take_token(page)
    assert copied == first
    assert first not in page.content()  # gone from the page once the dialog is closed
    success(page, 'Created "CRM sync"')
    # Once the token is closed, the notice no longer asks to copy it.
    expect(page.locator("#message")).not_to_contain_text("Copy its token now")

    # Use it, as an app would.
    assert curl_status(server, first, "/locations/loc-downtown") == 200
    row = page.locator("tr", has_text="CRM sync")
    expect(row).to_contain_text("pit-…" + first[-4:])

    # Edit: the scopes it holds are listed first.
    menu_action(page, "CRM sync", "Edit")
    expect(page.locator("#create-title")).to_have_text('Edit "CRM sync"')
    page.fill("#name", "CRM sync v2")
    page.get_by_role("button", name="Next", exact=True).click()
    first_group = page.locator(".scope-group").first
    expect(first_group.locator("h3")).to_have_text("Granted now")
    expect(first_group.locator("input:checked")).to_have_count(2)
    page.uncheck("input[data-scope='locations.readonly']")
    page.get_by_role("button", name="Save", exact=True).click()
    success(page, 'Saved "CRM sync v2"')
    row = page.locator("tr", has_text="CRM sync v2")
    expect(row).not_to_contain_text("locations.readonly")
    assert curl_status(server, first, "/locations/loc-downtown") == 403  # the scope is gone at once
    assert curl_status(server, first, CONTACTS) == 200

    # A problem the server finds keeps the dialog open, with what was typed, next to its field.
    menu_action(page, "CRM sync v2", "Edit")
    page.evaluate("document.getElementById('description').removeAttribute('maxlength')")
    page.fill("#description", "d" * 501)
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#description-error")).to_contain_text("at most 500 characters")
    expect(page.locator("#create-dialog")).to_be_visible()
    expect(page.locator("#step-1")).to_be_visible()
    expect(page.locator("#name")).to_have_value("CRM sync v2")
    shot(page, "dialog-error.png")
    page.get_by_role("button", name="Cancel", exact=True).click()

    # Rotate later: the overlap comes from the server; Rotate later is not offered again meanwhile.
    menu_action(page, "CRM sync v2", "Rotate and expire this token later")
    expect(page.locator("#confirm-title")).to_have_text('Rotate the token of "CRM sync v2"?')
    # The expiry chosen here is the new token's: the dialog says so.
    expect(page.locator("#confirm-dialog").get_by_text("New token's expiration")).to_be_visible()
    shot(page, "rotate-later-dialog.png")
    confirm(page, "keeps working for 7 days", "Rotate", danger=False)
    second = take_token(page)
    success(page, "keeps working for 7 days")
    expect(row).to_contain_text(re.compile(r"(7 days|6 days 23 h) left"))
    page.get_by_role("button", name="Actions for CRM sync v2").click()
    expect(page.get_by_role("button", name="Rotate and expire this token later")).to_have_count(0)
    expect(page.get_by_role("button", name="Rotate and expire this token now")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator("h1").click()
    shot(page, "list-rotation-pending.png")
    assert curl_status(server, first, CONTACTS) == 200
    assert curl_status(server, second, CONTACTS) == 200

    # Cancel the rotation: confirmed first, then said.
    row.get_by_role("button", name="Cancel rotation").click()
    expect(page.locator("#confirm-title")).to_have_text('Cancel the rotation of "CRM sync v2"?')
    confirm(page, "stops working now", "Cancel rotation")
    success(page, 'Rotation of "CRM sync v2" cancelled')
    expect(row.get_by_role("button", name="Cancel rotation")).to_have_count(0)
    expect(row).to_contain_text("pit-…" + first[-4:])
    assert curl_status(server, second, CONTACTS) == 401
    assert curl_status(server, first, CONTACTS) == 200

    # Rotate later again, then expire the old token now (confirmed, then said).
    menu_action(page, "CRM sync v2", "Rotate and expire this token later")
    confirm(page, "A new token is created now", "Rotate", danger=False)
    third = take_token(page)
    row.get_by_role("button", name="Expire now").click()
    expect(page.locator("#confirm-title")).to_have_text('Expire the old token of "CRM sync v2" now?')
    shot(page, "expire-now-dialog.png")
    confirm(page, "stops working now", "Expire now")
    success(page, "has expired")
    expect(row.get_by_role("button", name="Expire now")).to_have_count(0)
    assert curl_status(server, first, CONTACTS) == 401
    assert curl_status(server, third, CONTACTS) == 200

    # Rotate now.
    menu_action(page, "CRM sync v2", "Rotate and expire this token now")
    confirm(page, "stops working immediately", "Rotate and expire now")
    fourth = take_token(page)
    success(page, "every earlier token stopped working")
    expect(row).to_contain_text("pit-…" + fourth[-4:])
    assert curl_status(server, third, CONTACTS) == 401
    assert curl_status(server, fourth, CONTACTS) == 200
    shot(page, "list.png")

    # Delete.
    menu_action(page, "CRM sync v2", "Delete")
    expect(page.locator("#confirm-title")).to_have_text('Delete "CRM sync v2"?')
    shot(page, "delete-dialog.png")
    confirm(page, "cannot be undone", "Delete")
    success(page, '"CRM sync v2" was deleted')
    expect(page.locator("#empty")).to_be_visible()
    assert curl_status(server, fourth, CONTACTS) == 401

    # Sign out: the session is forgotten, also after a reload.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#content")).to_be_hidden()
    assert stored_session(page) is None
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()

    # A session that expires while the page is open: the next call shows the sign-in box again.
    sign_in_with_box(page, session_for("user-admin", seconds=2))
    expect(page.locator("#who")).to_contain_text("Signed in as user-admin")
    time.sleep(3)
    page.select_option("#owner", label="Sub-account: Downtown Dental")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("expired")
    assert stored_session(page) is None
    shot(page, "session-expired.png")
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()
    sign_in_with_box(page, session_for("user-admin"))
    expect(page.locator("#who")).to_contain_text("Signed in as user-admin")
    expect(page.locator("#error")).to_be_hidden()


def test_create_keeps_the_dialog_when_the_server_refuses(page: Page, server: Server) -> None:
    admin = session_for("user-admin")
    open_as(page, server, "user-admin")
    page.select_option("#owner", label="Sub-account: Uptown Yoga")
    page.locator("#empty").get_by_role("button", name="Create your first integration").click()
    page.fill("#name", "Refused first")
    page.get_by_role("button", name="Next", exact=True).click()
    page.check("input[data-scope='contacts.readonly']")
    assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": False}) == 200
    try:
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page.locator("#dialog-error")).to_contain_text("Labs")
        expect(page.locator("#create-dialog")).to_be_visible()
        expect(page.locator("input[data-scope='contacts.readonly']")).to_be_checked()
    finally:
        assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": True}) == 200
    page.get_by_role("button", name="Create", exact=True).click()  # the same dialog, as typed
    take_token(page)
    expect(page.locator("tr", has_text="Refused first")).to_be_visible()
    server.delete_all("locations/loc-uptown")


def test_time_left_comes_from_the_server_clock(page: Page, server: Server) -> None:
    created = server.create("locations/loc-uptown", "Clock check", ["contacts.readonly"])
    integration = created["privateIntegration"]["id"]
    admin = session_for("user-admin")
    assert (
        server.status("POST", f"/private-integrations/{integration}/rotate", admin, {"expire": "later"})
        == 200
    )
    try:
        # This computer's clock is 3 days ahead of the server's.
        page.clock.install(time=time.time() + 3 * 24 * 3600)
        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Uptown Yoga")
        row = page.locator("tr", has_text="Clock check")
        expect(row).to_contain_text(re.compile(r"(7 days|6 days 23 h) left"))
        expect(row.get_by_role("button", name="Cancel rotation")).to_be_visible()
        # The page stays open past the overlap: what would now be refused is no longer offered.
        page.clock.fast_forward(8 * 24 * 3600 * 1000)
        expect(row).to_contain_text("Rotation over")
        expect(row.get_by_role("button", name="Cancel rotation")).to_have_count(0)
        expect(row.get_by_role("button", name="Expire now")).to_have_count(0)
        page.get_by_role("button", name="Actions for Clock check").click()
        expect(page.get_by_role("button", name="Rotate and expire this token later")).to_be_visible()
    finally:
        server.delete_all("locations/loc-uptown")


def test_an_agency_admin_lowers_the_burst_limit_and_sees_todays_daily_use(page: Page, server: Server) -> None:
    def used_today() -> int:
        listed = server.call("GET", "/locations/loc-downtown/private-integrations", session_for("user-admin"))
        return int(listed[1]["dailyUsage"][0]["used"])

    token = server.create("locations/loc-downtown", "Busy sync", ["locations.readonly"])["token"]
    try:
        before = used_today()  # the module's other tests use this location too
        for _ in range(3):
            assert curl_status(server, token, "/locations/loc-downtown") == 200
        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Downtown Dental")
        usage = page.locator("#usage")
        expect(usage).to_contain_text("API requests today")
        expect(usage.locator('[data-location="loc-downtown"]')).to_have_text(
            re.compile(f"Downtown Dental: {before + 3:,} of 200,000$")
        )
        row = page.locator("tr", has_text="Busy sync")
        expect(row.locator(".burst")).to_have_text("Burst limit: 100 per 10 s")
        # A value the server refuses is shown next to the field, and the dialog keeps what was typed.
        menu_action(page, "Busy sync", "Edit")
        dialog = page.locator("#create-dialog")
        dialog.get_by_label("Burst limit").fill("500")
        dialog.get_by_role("button", name="Next").click()
        dialog.get_by_role("button", name="Save").click()
        expect(page.locator("#burstLimit-error")).to_contain_text("burstLimit")
        expect(dialog).to_be_visible()  # back on the field's step, with what was typed
        expect(dialog.get_by_label("Burst limit")).to_have_value("500")
        dialog.get_by_label("Burst limit").fill("2")
        dialog.get_by_role("button", name="Next").click()
        dialog.get_by_role("button", name="Save").click()
        success(page, "Saved")
        expect(row.locator(".burst")).to_have_text("Burst limit: 2 per 10 s (lowered)")
        # The lowered limit is what the integration's app meets next: five calls span at most two
        # 10-second windows, so at most four are served.
        statuses = [curl_status(server, token, "/locations/loc-downtown") for _ in range(5)]
        assert 429 in statuses and set(statuses) <= {200, 429}, statuses
        page.reload()
        used = f"Downtown Dental: {before + 3 + statuses.count(200):,} of 200,000"
        expect(page.locator("#usage").locator('[data-location="loc-downtown"]')).to_have_text(
            re.compile(used + "$")
        )
        shot(page, "burst-limit.png")
    finally:
        server.delete_all("locations/loc-downtown")


def test_usable_on_a_phone(phone: Page, server: Server) -> None:
    long_name = "Nightly export of every contact to the data warehouse"
    created = server.create("locations/loc-downtown", long_name, ["contacts.readonly", "contacts.write"])
    admin = session_for("user-admin")
    path = f"/private-integrations/{created['privateIntegration']['id']}/rotate"
    assert server.status("POST", path, admin, {"expire": "later"}) == 200
    try:
        open_as(phone, server, "user-admin")
        phone.select_option("#owner", label="Sub-account: Downtown Dental")
        row = phone.locator("tr", has_text=long_name)
        expect(row).to_contain_text("left")

        def fits() -> None:
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page is {width} px wide"

        fits()
        # The token hint stays on one line (not `pit-…` / `cu9e`).
        for hint in row.locator("code.hint").all():
            box = hint.bounding_box()
            assert box is not None and box["height"] < 24 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "phone-list.png")
        phone.get_by_role("button", name=f"Actions for {long_name}").click()
        menu = row.locator(".menu-items")
        box = menu.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "phone-menu.png")
        # The confirmations fit too, their action buttons whole: Expire now (the rotation pending) and
        # Delete, each named for the integration.
        phone.locator("h1").click()
        row.get_by_role("button", name="Expire now").click()
        expect(phone.locator("#confirm-title")).to_have_text(f'Expire the old token of "{long_name}" now?')
        answer = phone.locator("#confirm-dialog").get_by_role("button", name="Expire now", exact=True)
        box = answer.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "phone-expire-now-dialog.png")
        phone.locator("#confirm-dialog").get_by_role("button", name="Cancel", exact=True).click()
        phone.get_by_role("button", name=f"Actions for {long_name}").click()
        phone.get_by_role("button", name="Delete", exact=True).click()
        expect(phone.locator("#confirm-title")).to_have_text(f'Delete "{long_name}"?')
        box = phone.locator("#confirm-dialog").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "phone-delete-dialog.png")
        phone.locator("#confirm-dialog").get_by_role("button", name="Cancel", exact=True).click()
        phone.locator("h1").click()
        phone.get_by_role("button", name="Create new integration").click()
        phone.fill("#name", "From my phone")
        phone.get_by_role("button", name="Next", exact=True).click()
        dialog = phone.locator("#create-dialog").bounding_box()
        assert dialog is not None and dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= PHONE["width"]
        shot(phone, "phone-scopes.png")
        phone.get_by_role("button", name="Cancel", exact=True).click()
        phone.select_option("#owner", label="Sub-account: Uptown Yoga")
        expect(phone.locator("#empty")).to_be_visible()
        fits()
        shot(phone, "phone-empty.png")
        phone.get_by_role("button", name="Sign out").click()
        fits()
        shot(phone, "phone-signed-out.png")
    finally:
        server.delete_all("locations/loc-downtown")


def test_no_controls_without_permission(page: Page, server: Server) -> None:
    open_as(page, server, "user-staff")
    expect(page.locator("#message")).to_contain_text("do not have permission")
    expect(page.get_by_role("button", name="Create new integration")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # An account user sees only the sub-account it may manage, and no agency option.
    open_as(page, server, "user-account-admin")
    expect(page.locator("#owner option")).to_have_text(["Sub-account: Downtown Dental"])


def test_labs_off_says_to_enable_it(page: Page, server: Server) -> None:
    admin = session_for("user-admin")
    assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": False}) == 200
    try:
        open_as(page, server, "user-admin")
        expect(page.locator("#message")).to_contain_text("enable Private Integrations in Settings > Labs")
        expect(page.get_by_role("button", name="Create new integration")).to_be_hidden()
    finally:
        assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": True}) == 200


def test_rotation_recommended_mark(page: Page, server: Server) -> None:
    server.create("agencies/agency-demo", "Old reporting token", ["locations.readonly"])

    # The server decides `rotationRecommended` (tested in test_lifecycle.py with the clock); here the
    # page's answer for a 90-day-old token is played back, to see the page mark it.
    def age_tokens(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for item in body["privateIntegrations"]:
            item["rotationRecommended"] = item["name"] == "Old reporting token"
        route.fulfill(response=response, json=body)

    try:
        page.route("**/agencies/agency-demo/private-integrations", age_tokens)
        open_as(page, server, "user-admin")
        row = page.locator("tr", has_text="Old reporting token")
        expect(row.locator(".badge")).to_have_text("Rotation recommended")
    finally:
        server.delete_all("agencies/agency-demo")


def test_a_leaked_token_is_shown_revoked_with_where_it_was_found_and_rotate_fixes_it(
    page: Page, server: Server
) -> None:
    created = server.create("locations/loc-downtown", "Leaky sync", ["locations.readonly"])
    leaked = created["token"]
    url = "https://github.com/acme/crm-sync/blob/4f2a/settings.py"
    try:
        assert github_reports(server, leaked, url, "commit")[0]["label"] == "true_positive"
        assert curl_status(server, leaked, "/locations/loc-downtown") == 401
        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Downtown Dental")
        row = page.locator("tr", has_text="Leaky sync")
        leak = row.locator(".leak")
        expect(leak).to_contain_text("Revoked: leaked")
        expect(leak).to_contain_text("commit")
        expect(leak.get_by_role("link", name=url)).to_have_attribute("href", url)
        shot(page, "leaked.png")
        # Rotate later makes no sense for a dead token: the menu offers rotating now only.
        page.get_by_role("button", name="Actions for Leaky sync").click()
        expect(row.get_by_role("button", name="Rotate and expire this token later")).to_have_count(0)
        page.locator("h1").click()
        leak.get_by_role("button", name="Rotate", exact=True).click()
        fresh = take_token(page)
        success(page, "has a new token")
        expect(row.locator(".leak")).to_have_count(0)
        expect(row).to_contain_text(fresh[-4:])
        assert curl_status(server, fresh, "/locations/loc-downtown") == 200
        assert curl_status(server, leaked, "/locations/loc-downtown") == 401
    finally:
        server.delete_all("locations/loc-downtown")


def test_choosing_an_expiry_at_create_and_rotate_and_the_near_expiry_warning(
    page: Page, server: Server
) -> None:
    try:
        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Uptown Yoga")
        page.get_by_role("button", name=re.compile("Create (your first integration|new integration)")).click()
        dialog = page.locator("#create-dialog")
        page.fill("#name", "Quarterly export")
        dialog.get_by_label("Token expiration").select_option(label="Expires in 90 days")
        dialog.get_by_role("button", name="Next").click()
        page.locator("#scope-list label", has_text="locations.readonly").first.click()
        dialog.get_by_role("button", name="Create").click()
        page.locator("#token-close").click()
        row = page.locator("tr", has_text="Quarterly export")
        expect(row).to_contain_text("Expires ")
        expect(row.locator(".expires-soon")).to_have_count(0)
        # A custom date in the past is refused by the server: shown next to the expiry, dialog kept.
        page.get_by_role("button", name="Create new integration").click()
        page.fill("#name", "Too late")
        dialog.get_by_label("Token expiration").select_option(label="Custom date…")
        dialog.get_by_label("Expiration date").fill("2020-01-01")
        dialog.get_by_role("button", name="Next").click()
        page.locator("#scope-list label", has_text="locations.readonly").first.click()
        dialog.get_by_role("button", name="Create").click()
        expect(page.locator("#expiry-error")).to_contain_text("expiresAt must be in the future")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        # Rotating now with a 30-day expiry.
        menu_action(page, "Quarterly export", "Rotate and expire this token now")
        chooser = page.locator("#confirm-dialog").get_by_label("Token expiration")
        chooser.select_option(label="Expires in 30 days")
        confirm(page, "stops working immediately", "Rotate and expire now")
        page.locator("#token-close").click()
        items = server.call("GET", "/locations/loc-uptown/private-integrations", session_for("user-admin"))[1]
        (item,) = [i for i in items["privateIntegrations"] if i["name"] == "Quarterly export"]
        assert item["token"]["expiresAt"] is not None
        expect(row.locator(".expires-soon")).to_have_count(0)
        # A token that ends within 7 days (on the server's clock) carries a warning.
        admin = session_for("user-admin")
        body = {"name": "Short-lived", "scopes": ["locations.readonly"], "expiresInDays": 3}
        assert server.status("POST", "/locations/loc-uptown/private-integrations", admin, body) == 201
        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Uptown Yoga")
        soon = page.locator("tr", has_text="Short-lived").locator(".expires-soon")
        expect(soon).to_contain_text(re.compile(r"Expires soon: (3 days|2 days 23 h) left"))
    finally:
        server.delete_all("locations/loc-uptown")


def test_the_ip_allowlist_editor_the_mode_switch_and_the_addresses_seen_hook(
    page: Page, server: Server
) -> None:
    """Issue 28: the owner edits the addresses and switches enforce / report; curl (from 127.0.0.1) sees
    each change at once. The addresses seen come from usage (issue 27): curl's 127.0.0.1, counted by the
    running server's aggregator, is offered in the editor and allowed in one click."""
    created = server.create("locations/loc-downtown", "Office app", ["locations.readonly"])
    token, integration = created["token"], created["privateIntegration"]["id"]
    open_as(page, server, "user-admin")
    page.select_option("#owner", label="Sub-account: Downtown Dental")
    row = page.locator("tr", has_text="Office app")
    expect(row).to_contain_text("IP addresses: any")

    def save() -> None:
        page.get_by_role("button", name="Next", exact=True).click()
        page.get_by_role("button", name="Save", exact=True).click()

    # A bad entry: the server's problem next to the list, naming the entry; the dialog stays open.
    menu_action(page, "Office app", "Edit")
    expect(page.locator("#ip-enforce")).to_be_checked()
    page.fill("#allowed-ips", "203.0.113.0/24\n10.0.0.0/33")
    save()
    expect(page.locator("#allowedIps-error")).to_contain_text("allowedIps[1] ('10.0.0.0/33')")
    expect(page.locator("#allowedIps-error")).to_contain_text("longer than an IPv4 address")
    expect(page.locator("#step-1")).to_be_visible()
    page.fill("#allowed-ips", "203.0.113.9/24")  # host bits: stored as the block
    save()
    success(page, 'Saved "Office app"')
    expect(row).to_contain_text("IP addresses: 1 allowed (enforced)")
    assert curl_status(server, token, "/locations/loc-downtown") == 403  # curl calls from 127.0.0.1

    # Report only: the same caller is let in.
    menu_action(page, "Office app", "Edit")
    expect(page.locator("#allowed-ips")).to_have_value("203.0.113.0/24")
    page.check("#ip-report")
    save()
    expect(row).to_contain_text("IP addresses: 1 allowed (report only)")
    assert curl_status(server, token, "/locations/loc-downtown") == 200

    # Addresses seen (usage of the last 7 days) that the list does not admit, allowed in one click.
    usage = _wait_for_usage(
        server, integration, lambda u: {"ip": "127.0.0.1", "allowed": False} in u["addresses"]
    )
    assert {"ip": "127.0.0.1", "allowed": False} in usage["addresses"], usage["addresses"]
    menu_action(page, "Office app", "Edit")
    seen = page.locator("#seen-ips")
    expect(seen).to_be_visible()
    expect(seen).to_contain_text("1 address used this token in the last 7 days")
    expect(page.locator("#seen-ips-list .chip")).to_have_text(["127.0.0.1"])
    shot(page, "allowlist-editor.png")
    seen.get_by_role("button", name="Allow these", exact=True).click()
    expect(page.locator("#allowed-ips")).to_have_value("203.0.113.0/24\n127.0.0.1")
    expect(seen).to_be_hidden()
    page.check("#ip-enforce")
    save()
    expect(row).to_contain_text("IP addresses: 2 allowed (enforced)")
    assert curl_status(server, token, "/locations/loc-downtown") == 200
    # Allowed now: the editor offers nothing.
    menu_action(page, "Office app", "Edit")
    expect(page.locator("#allowed-ips")).to_have_value("203.0.113.0/24\n127.0.0.1")
    page.wait_for_load_state("networkidle")
    expect(seen).to_be_hidden()


def _wait_for_usage(server: Server, integration: str, done: Any) -> dict[str, Any]:
    """The running server's aggregator counts the access log within seconds: poll, never a fixed sleep."""
    admin = session_for("user-admin")
    deadline = time.monotonic() + 10
    while True:
        status, usage = server.call("GET", f"/private-integrations/{integration}/usage", admin)
        assert status == 200, usage
        if done(usage) or time.monotonic() > deadline:
            return dict(usage)
        time.sleep(0.2)


def test_each_integration_charts_its_requests_and_expire_now_says_whether_the_old_token_is_still_used(
    page: Page, server: Server
) -> None:
    """Requests by outcome in a chart drawn by the page, the last use with its address and user agent,
    and during a rotation the old token's use in the last 24 hours: in the row and in Expire Now's
    question ("last used …" for a token the app still sends, "not used since the rotation" otherwise)."""
    admin = session_for("user-admin")
    used = server.create("locations/loc-uptown", "Still on the old token", ["locations.readonly"])
    quiet = server.create("locations/loc-uptown", "Already switched", ["locations.readonly"])
    used_id, quiet_id = used["privateIntegration"]["id"], quiet["privateIntegration"]["id"]
    try:
        for _ in range(3):
            assert server.call("GET", "/locations/loc-uptown", used["token"])[0] == 200
        assert server.call("POST", "/contacts/", used["token"], {"locationId": "loc-uptown"})[0] == 403
        for integration in (used_id, quiet_id):
            status = server.status(
                "POST", f"/private-integrations/{integration}/rotate", admin, {"expire": "later"}
            )
            assert status == 200
        assert server.call("GET", "/locations/loc-uptown", used["token"])[0] == 200  # the old token, after
        usage = _wait_for_usage(
            server,
            used_id,
            lambda u: (
                u["totals"]["previous"]["allowed"] == 1 and u["lastUsedByToken"]["previous"] is not None
            ),
        )
        assert usage["totals"]["current"] == {
            "allowed": 3,
            "forbidden": 1,
            "rateLimited": 0,
            "outsideAllowlist": 0,
        }

        open_as(page, server, "user-admin")
        page.select_option("#owner", label="Sub-account: Uptown Yoga")
        row = page.locator("tr", has_text="Still on the old token")
        chart = row.locator("svg.chart")
        expect(chart).to_have_attribute(
            "aria-label", re.compile(r"last 7 days: 4 allowed, 1 forbidden \(403\)")
        )
        expect(chart.locator("rect.bar.allowed")).not_to_have_count(0)
        expect(chart.locator("rect.bar.forbidden")).to_have_count(1)
        expect(row.locator(".last-use")).to_contain_text("from 127.0.0.1 (Python-urllib/")
        expect(row.locator(".old-token-use")).to_contain_text("1 request in the last 24 hours")
        shot(page, "usage-chart.png")
        # The 30-day window: one bar a day.
        page.select_option("#usage-days", "30")
        expect(row.locator("svg.chart")).to_have_attribute(
            "aria-label", re.compile(r"last 30 days: 4 allowed")
        )

        row.get_by_role("button", name="Expire now").click()
        dialog = page.locator("#confirm-dialog")
        expect(dialog).to_contain_text("The old token was last used")
        expect(dialog).to_contain_text("from 127.0.0.1")
        shot(page, "expire-now-old-token-used.png")
        page.get_by_role("button", name="Cancel", exact=True).click()

        quiet_row = page.locator("tr", has_text="Already switched")
        expect(quiet_row.locator(".old-token-use")).to_contain_text("not been used since the rotation")
        quiet_row.get_by_role("button", name="Expire now").click()
        confirm(page, "The old token has not been used since the rotation", "Expire now")
        success(page, "has expired")
    finally:
        server.delete_all("locations/loc-uptown")
