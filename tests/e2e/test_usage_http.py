"""Usage per integration over HTTP against `make run`'s real server (issue 27): the emulated gateway
writes the access log, the server's own aggregator thread counts it within seconds, and
GET /private-integrations/{id}/usage shows it. One server for the module."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.dev_server import DevServer

SECRET = "usage-test-session-secret-0123456789abcdef"
SEED = {
    "agencies": [
        {"id": "ag-one", "name": "One", "labs": {"privateIntegrations": True}},
        {"id": "ag-two", "name": "Two", "labs": {"privateIntegrations": True}},
    ],
    "locations": [{"id": "loc-one", "agencyId": "ag-one", "name": "One's"}],
    "users": [
        {"id": "admin-one", "agencyId": "ag-one", "type": "agency", "role": "admin"},
        {"id": "admin-two", "agencyId": "ag-two", "type": "agency", "role": "admin"},
    ],
}


def session(user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with tempfile.TemporaryDirectory(prefix="pi-usage-seed-") as folder:
        seed = Path(folder) / "seed.json"
        seed.write_text(json.dumps(SEED))
        running = DevServer({"PI_SESSION_SECRET": SECRET, "PI_SEED_FILE": str(seed)})
        yield running
        running.stop()


def usage_when(
    server: DevServer, integration: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll the usage answer until `ready` (the aggregator runs every half second): never a fixed sleep."""
    deadline = time.monotonic() + 10
    while True:
        status, body = server.call("GET", f"/private-integrations/{integration}/usage", session("admin-one"))
        assert status == 200, body
        if ready(body):
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def settled(usage: dict[str, Any]) -> bool:
    """Counters are written first, then the last uses: both are in (3 + 1 current, 3 previous)."""
    last, by_token = usage["lastUsed"], usage["lastUsedByToken"]
    return bool(
        usage["totals"]["current"]["allowed"] == 3
        and last is not None
        and last["token"] == "current"
        and by_token["previous"] is not None
    )


def test_counts_follow_the_token_that_made_each_request_around_a_rotation(server: DevServer) -> None:
    admin = session("admin-one")
    status, created = server.call(
        "POST",
        "/locations/loc-one/private-integrations",
        admin,
        {"name": "sync", "scopes": ["locations.readonly"]},
    )
    assert status == 201
    integration, old = created["privateIntegration"]["id"], created["token"]
    for _ in range(2):
        assert server.call("GET", "/locations/loc-one", old)[0] == 200
    assert (
        server.call("POST", "/contacts/", old, {"locationId": "loc-one"})[0] == 403
    )  # the policy: forbidden
    status, rotated = server.call(
        "POST", f"/private-integrations/{integration}/rotate", admin, {"expire": "later"}
    )
    assert status == 200
    new = rotated["token"]
    for _ in range(3):
        assert server.call("GET", "/locations/loc-one", old)[0] == 200  # the app still sends the old one
    assert server.call("GET", "/locations/loc-one", new)[0] == 200

    # Counters first, then the last uses: wait for both.
    body = usage_when(server, integration, settled)
    assert body["totals"] == {
        "current": {"allowed": 3, "forbidden": 1, "rateLimited": 0, "outsideAllowlist": 0},
        "previous": {"allowed": 3, "forbidden": 0, "rateLimited": 0, "outsideAllowlist": 0},
    }
    assert body["granularity"] == "hour" and len(body["buckets"]) == 7 * 24
    assert body["lastUsed"]["token"] == "current"
    assert body["lastUsed"]["ip"] == "127.0.0.1"  # the caller's address as the server saw it
    assert body["lastUsed"]["userAgent"].startswith("Python-urllib/")
    assert body["lastUsedByToken"]["previous"]["ip"] == "127.0.0.1"
    # The addresses seen (written after the counts): the one caller, admitted (no list).
    seen = usage_when(server, integration, lambda b: bool(b["addresses"]))["addresses"]
    assert seen == [{"ip": "127.0.0.1", "allowed": True}]
    # The same counts over 30 days, by day.
    status, month = server.call("GET", f"/private-integrations/{integration}/usage?days=30", admin)
    assert status == 200 and month["granularity"] == "day" and month["totals"] == body["totals"]


def test_another_agency_gets_404_and_a_bad_window_422_saying_what_to_send(server: DevServer) -> None:
    admin = session("admin-one")
    status, created = server.call(
        "POST",
        "/locations/loc-one/private-integrations",
        admin,
        {"name": "other", "scopes": ["locations.readonly"]},
    )
    assert status == 201
    integration = created["privateIntegration"]["id"]
    path = f"/private-integrations/{integration}/usage"
    status, body = server.call("GET", path, session("admin-two"))
    assert status == 404 and body["error"] == "Not Found"
    status, body = server.call("GET", path + "?days=365", admin)
    assert status == 422
    assert body["message"] == ["days must be a whole number from 1 to 90 (e.g. ?days=7); got '365'"]
