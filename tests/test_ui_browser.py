"""The Settings > Private Integrations page, end to end in headless Chromium (Debian's package, driven
by Playwright) against the real `make run` server. Screenshots go to artifacts/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

ROOT = Path(__file__).resolve().parent.parent
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

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.dev_server import DevServer  # noqa: E402


def session_for(user_id: str) -> str:
    return jwt.encode({"sub": user_id, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


class Server(DevServer):
    def status(self, method: str, path: str, token: str, body: Any = None) -> int:
        return self.call(method, path, token, body)[0]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server({"PI_SESSION_SECRET": SECRET})
    yield running
    running.stop()


@pytest.fixture
def page(server: Server) -> Iterator[Page]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"]
        )
        yield context.new_page()
        browser.close()


def open_as(page: Page, server: Server, user_id: str) -> None:
    page.goto("about:blank")  # a new load, not just a new #fragment on the same document
    page.goto(f"{server.base}/#session={session_for(user_id)}")


def menu_action(page: Page, name: str, action: str) -> None:
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("button", name=action, exact=True).click()


def take_token(page: Page) -> str:
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    token = page.locator("#token-value").inner_text()
    assert token.startswith("pit-")
    page.get_by_role("button", name="Done", exact=True).click()
    expect(dialog).to_be_hidden()
    return token


def test_the_whole_lifecycle_in_the_browser(page: Page, server: Server) -> None:
    open_as(page, server, "user-admin")
    page.select_option("#owner", label="Sub-account: Downtown Dental")
    expect(page.locator("#owner-caption")).to_have_text("Sub-account: Downtown Dental")

    # Create: step 1 name and description, step 2 scopes (grouped, searchable, only location ones).
    page.get_by_role("button", name="Create new Integration").click()
    page.fill("#name", "CRM sync")
    page.fill("#description", "Nightly export")
    page.get_by_role("button", name="Next", exact=True).click()
    assert page.locator("input[data-scope='locations.write']").count() == 0  # agency-only scope
    page.fill("#scope-search", "contacts.")
    expect(page.locator("input[data-scope='locations.readonly']")).to_have_count(0)
    page.check("input[data-scope='contacts.readonly']")
    page.fill("#scope-search", "locations.readonly")
    page.check("input[data-scope='locations.readonly']")
    expect(page.locator("#scope-count")).to_have_text("2 scopes selected")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page.locator("#token-dialog")).to_be_visible()
    expect(page.locator("#token-dialog")).to_contain_text("cannot be retrieved again")
    page.screenshot(path=str(ARTIFACTS / "token-dialog.png"))
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    first = take_token(page)
    assert copied == first
    assert first not in page.content()  # gone from the page once the dialog is closed

    # The token works with the API.
    assert server.status("GET", "/locations/loc-downtown", first) == 200
    row = page.locator("tr", has_text="CRM sync")
    expect(row).to_contain_text("pit-…" + first[-4:])
    expect(row).to_contain_text("contacts.readonly")

    # Edit.
    menu_action(page, "CRM sync", "Edit")
    page.fill("#name", "CRM sync v2")
    page.get_by_role("button", name="Next", exact=True).click()
    page.uncheck("input[data-scope='locations.readonly']")
    page.get_by_role("button", name="Save", exact=True).click()
    row = page.locator("tr", has_text="CRM sync v2")
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("locations.readonly")
    assert server.status("GET", "/locations/loc-downtown", first) == 403  # the scope is gone at once
    assert server.status("GET", "/contacts/?locationId=loc-downtown", first) == 200

    # Rotate later, then cancel the rotation.
    menu_action(page, "CRM sync v2", "Rotate and expire this token later")
    page.get_by_role("button", name="Continue", exact=True).click()
    second = take_token(page)
    expect(row).to_contain_text("left")
    expect(row.get_by_role("button", name="Cancel rotation")).to_be_visible()
    expect(row.get_by_role("button", name="Expire Now")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "list-rotation-pending.png"))
    assert server.status("GET", "/contacts/?locationId=loc-downtown", first) == 200
    assert server.status("GET", "/contacts/?locationId=loc-downtown", second) == 200
    row.get_by_role("button", name="Cancel rotation").click()
    expect(row.get_by_role("button", name="Cancel rotation")).to_have_count(0)
    expect(row).to_contain_text("pit-…" + first[-4:])
    assert server.status("GET", "/contacts/?locationId=loc-downtown", second) == 401
    assert server.status("GET", "/contacts/?locationId=loc-downtown", first) == 200

    # Rotate later again, then expire the old token now.
    menu_action(page, "CRM sync v2", "Rotate and expire this token later")
    page.get_by_role("button", name="Continue", exact=True).click()
    third = take_token(page)
    row.get_by_role("button", name="Expire Now").click()
    expect(row.get_by_role("button", name="Expire Now")).to_have_count(0)
    assert server.status("GET", "/contacts/?locationId=loc-downtown", first) == 401
    assert server.status("GET", "/contacts/?locationId=loc-downtown", third) == 200

    # Rotate now.
    menu_action(page, "CRM sync v2", "Rotate and expire this token now")
    page.get_by_role("button", name="Continue", exact=True).click()
    fourth = take_token(page)
    expect(row).to_contain_text("pit-…" + fourth[-4:])
    assert server.status("GET", "/contacts/?locationId=loc-downtown", third) == 401
    assert server.status("GET", "/contacts/?locationId=loc-downtown", fourth) == 200
    page.screenshot(path=str(ARTIFACTS / "list.png"))

    # Delete.
    menu_action(page, "CRM sync v2", "Delete")
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.locator("tr", has_text="CRM sync v2")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    assert server.status("GET", "/contacts/?locationId=loc-downtown", fourth) == 401


def test_api_errors_are_shown_in_words(page: Page, server: Server) -> None:
    open_as(page, server, "user-admin")
    page.get_by_role("button", name="Create new Integration").click()
    page.fill("#name", "No scopes")
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#error")).to_contain_text("scopes must be a non-empty list")


def test_no_controls_without_permission(page: Page, server: Server) -> None:
    open_as(page, server, "user-staff")
    expect(page.locator("#message")).to_contain_text("do not have permission")
    expect(page.get_by_role("button", name="Create new Integration")).to_be_hidden()
    # An account user sees only the sub-account it may manage, and no agency option.
    open_as(page, server, "user-account-admin")
    expect(page.locator("#owner option")).to_have_text(["Sub-account: Downtown Dental"])


def test_labs_off_says_to_enable_it(page: Page, server: Server) -> None:
    admin = session_for("user-admin")
    assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": False}) == 200
    try:
        open_as(page, server, "user-admin")
        expect(page.locator("#message")).to_contain_text("enable Private Integrations in Settings > Labs")
        expect(page.get_by_role("button", name="Create new Integration")).to_be_hidden()
    finally:
        assert server.status("PUT", "/agencies/agency-demo/labs", admin, {"privateIntegrations": True}) == 200


def test_rotation_recommended_mark(page: Page, server: Server) -> None:
    admin = session_for("user-admin")
    status = server.status(
        "POST",
        "/agencies/agency-demo/private-integrations",
        admin,
        {
            "name": "Old reporting token",
            "scopes": ["locations.readonly"],
        },
    )
    assert status == 201

    # The server decides `rotationRecommended` (tested in test_lifecycle.py with the clock); here the
    # page's answer for a 90-day-old token is played back, to see the page mark it.
    def age_tokens(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for item in body["privateIntegrations"]:
            item["rotationRecommended"] = item["name"] == "Old reporting token"
        route.fulfill(response=response, json=body)

    page.route("**/agencies/agency-demo/private-integrations", age_tokens)
    open_as(page, server, "user-admin")
    row = page.locator("tr", has_text="Old reporting token")
    expect(row.locator(".badge")).to_have_text("Rotation recommended")
