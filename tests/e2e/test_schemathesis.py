"""schemathesis over openapi.yaml against `make run`'s server: never a 5xx, SPEC's error on every 4xx.

One shared server for the module. Management operations run with the printed session, v2 operations
with a token holding every v2 scope; about half the cases get real ids so that the code behind the
404s runs too. Every documented path is also tried with every HTTP method, odd ones included.
"""

from __future__ import annotations

import json
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings

from tests.support.dev_server import DevServer

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "openapi.yaml"
schema = schemathesis.openapi.from_path(str(OPENAPI))
EXAMPLES = 12  # per operation and phase: the whole module stays within a couple of minutes
ANSWERS: dict[int, int] = {}  # status -> count, over the whole module
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND")


class Live:
    def __init__(self) -> None:
        self.server = DevServer()
        self.session_token = self.server.printed_session()
        self.http = requests.Session()
        status, created = self.server.call(
            "POST",
            "/locations/loc-downtown/private-integrations",
            self.session_token,
            {"name": "fuzz", "scopes": ["locations.readonly", "contacts.readonly", "contacts.write"]},
        )
        assert status == 201, created
        self.token = created["token"]
        # Another integration for `{id}`: fuzzing may rotate or delete it, never the token above.
        status, target = self.server.call(
            "POST",
            "/locations/loc-uptown/private-integrations",
            self.session_token,
            {"name": "target", "scopes": ["locations.readonly"]},
        )
        assert status == 201, target
        status, contact = self.server.call("POST", "/contacts", self.token, {"locationId": "loc-downtown"})
        assert status == 201, contact
        self.ids = {
            "agencyId": "agency-demo",
            "locationId": "loc-downtown",
            "id": target["privateIntegration"]["id"],
            "userId": "user-staff",
            "contactId": contact["contact"]["id"],
        }


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    running = Live()
    yield running
    running.server.stop()


def assert_answer(response: Any, method: str, label: str) -> None:
    """A requests.Response or schemathesis' own Response."""
    ANSWERS[response.status_code] = ANSWERS.get(response.status_code, 0) + 1
    assert response.status_code < 500, f"{label}: {response.status_code} {response.content[:300]!r}"
    assert any(name.lower() == "x-trace-id" for name in response.headers), label
    if response.status_code >= 400 and method != "HEAD":
        body = json.loads(response.content)
        assert set(body) >= {"statusCode", "error", "message"}, f"{label}: {body}"
        assert body["statusCode"] == response.status_code, f"{label}: {body}"
        assert isinstance(body["error"], str) and body["error"], label
        assert isinstance(body["message"], str | list) and body["message"], label


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_within_the_contract(case: Any, live: Live) -> None:
    v2 = "v2" in (case.operation.definition.raw.get("tags") or [])
    # The right credential always (schemathesis would send made-up ones: 401s, tested elsewhere).
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers = {"Authorization": f"Bearer {live.token if v2 else live.session_token}"}
    # Never switch Labs off for the real agency (every later management case would be a 403), nor revoke
    # all its tokens (every later v2 case would be a 401): those cases keep schemathesis' made-up ids.
    agency_wide = case.path.endswith(("/labs", "/revoke-all")) and case.method in ("PUT", "POST")
    if case.path_parameters and not agency_wide and zlib.crc32(repr(case.path_parameters).encode()) % 2:
        case.path_parameters = {k: live.ids.get(k, v) for k, v in case.path_parameters.items()}
    response = case.call(base_url=live.server.base, session=live.http, headers=headers, timeout=30)
    assert_answer(response, case.method, f"{case.method} {case.formatted_path}")


def test_every_path_with_every_method(live: Live) -> None:
    paths = yaml.safe_load(OPENAPI.read_text())["paths"]
    for template in paths:
        path = template
        for name, value in live.ids.items():
            path = path.replace("{" + name + "}", value)
        for method in METHODS:
            for token in (live.session_token, live.token, None):
                headers = {"Version": "2021-07-28"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                response = live.http.request(method, live.server.base + path, headers=headers, timeout=30)
                assert_answer(response, method, f"{method} {path}")
                if token:
                    assert token not in response.text


def test_unknown_routes_are_404_under_chalice_local_and_never_echo_the_token(live: Live) -> None:
    for path in ("/nope", "/locations/loc-downtown/customValues", "/contacts/a/b/c"):
        for token in (live.session_token, live.token, None):
            headers = {"Version": "2021-07-28", **({"Authorization": f"Bearer {token}"} if token else {})}
            response = live.http.get(live.server.base + path, headers=headers, timeout=30)
            assert_answer(response, "GET", path)
            assert response.status_code == 404 and response.json()["message"].startswith("No such route")
            assert token is None or token not in response.text


def test_the_server_is_the_one_make_run_starts(live: Live) -> None:
    with urllib.request.urlopen(live.server.base + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}


def test_schemathesis_ran_and_found_no_server_error(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: the summary `make test` prints (with -s) and what it must hold."""
    total = sum(ANSWERS.values())
    with capsys.disabled():
        print(f"\nschemathesis + every method: {total} requests, answers {dict(sorted(ANSWERS.items()))}")
    assert total > 500
    assert not [status for status in ANSWERS if status >= 500]
