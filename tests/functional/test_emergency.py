"""Emergency revoke of every token of an agency: the route and the operator's script."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.audit.models import EventModel
from chalicelib.core.errors import Conflict, NotFound, Unauthorized
from chalicelib.directory import sessions
from chalicelib.integrations import access, emergency, lifecycle, service
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens.models import TokenModel
from scripts import revoke_all as script
from tests.support.lifecycle_helpers import assert_consistent, authorizes, create, race, rotate
from tests.support.world import Api, FakeClock, sign_in_again_after_revoke_all

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines

REVOKE = "/agencies/ag1/private-integrations/revoke-all"


def call_v2(api: Api, token: str, path: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    return int(api.client.http.get(path, headers=headers).status_code)


def world(api: Api) -> dict[str, Any]:
    """ag1: its own integration, a rotating one on loc1 (two live tokens), one on loc2. ag2: one."""
    own = api.post("/agencies/ag1/private-integrations", {"name": "own", "scopes": ["locations.readonly"]})
    assert own.status_code == 201, own.body
    loc1_id, loc1_old = create(api)
    loc1_new = rotate(api, loc1_id, "later").json_body["token"]
    loc2 = api.post("/locations/loc2/private-integrations", {"name": "b", "scopes": ["locations.readonly"]})
    other = api.post(
        "/locations/loc9/private-integrations", {"name": "c", "scopes": ["locations.readonly"]}, user="admin2"
    )
    assert other.status_code == 201, other.body
    return {
        "ag1": [
            (own.json_body["token"], "/locations/loc1"),
            (loc1_old, "/locations/loc1"),
            (loc1_new, "/locations/loc1"),
            (loc2.json_body["token"], "/locations/loc2"),
        ],
        "ag2": [(other.json_body["token"], "/locations/loc9")],
        "ag1_ids": {
            own.json_body["privateIntegration"]["id"],
            loc1_id,
            loc2.json_body["privateIntegration"]["id"],
        },
    }


def emergency_events() -> list[EventModel]:
    return [e for e in EventModel.scan() if e.type == "integration.deleted" and e.details.get("emergency")]


def test_every_token_of_the_agency_is_refused_on_its_next_request_and_audited(
    api: Api, frozen_clock: FakeClock
) -> None:
    tokens = world(api)
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag1"] + tokens["ag2"])
    answer = api.post(REVOKE, {"reason": "admin session leaked"})
    assert answer.status_code == 200, answer.body
    assert answer.json_body["agencyId"] == "ag1"
    assert answer.json_body["revokedIntegrations"] == 3 and answer.json_body["revokedTokens"] == 4
    sign_in_again_after_revoke_all(frozen_clock)
    assert all(call_v2(api, token, path) == 401 for token, path in tokens["ag1"])
    # Other agencies are untouched.
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag2"])
    assert [i.agency_id for i in IntegrationModel.scan()] == ["ag2"]
    events = emergency_events()
    assert {e.integration_id for e in events} == tokens["ag1_ids"]
    assert all(e.actor_id == "admin" and e.details["reason"] == "admin session leaked" for e in events)
    # The owners' feeds show it.
    feed = api.get("/locations/loc1/private-integrations/events").json_body["events"]
    assert feed[0]["type"] == "integration.deleted" and feed[0]["details"]["emergency"] is True
    assert_consistent()
    # Nothing left: a second call (signed in again) revokes nothing and succeeds.
    sign_in_again_after_revoke_all(frozen_clock)
    assert api.post(REVOKE, {"reason": "again"}).json_body["revokedIntegrations"] == 0


def test_only_an_agency_admin_of_that_agency_may_and_a_reason_is_required(api: Api) -> None:
    tokens = world(api)
    assert api.post(REVOKE, {"reason": "x"}, user="staff_flags").status_code == 403
    assert api.post(REVOKE, {"reason": "x"}, user="admin2").status_code == 404
    assert api.post(REVOKE, {"reason": "x"}, user=None).status_code == 401
    missing = api.post(REVOKE, {})
    assert missing.status_code == 422 and "reason is required" in missing.json_body["message"][0]
    assert api.post(REVOKE, {"reason": " ", "force": True}).status_code == 422
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag1"])


def test_operator_script_revokes_with_the_operator_in_the_audit(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = world(api)
    assert script.main(["--agency", "ag1", "--operator", "alice", "--reason", "store leaked"]) == 0
    assert '"revokedIntegrations": 3' in capsys.readouterr().out
    assert all(call_v2(api, token, path) == 401 for token, path in tokens["ag1"])
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag2"])
    assert {e.actor_id for e in emergency_events()} == {"operator:alice"}
    assert script.main(["--agency", "nope", "--operator", "alice", "--reason", "x"]) == 1


# --- issue 22: a leaked admin session is contained ------------------------------------------------


def session_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_revoke_all_ends_every_session_of_the_agency_issued_before_it(
    api: Api, frozen_clock: FakeClock
) -> None:
    leaked = sessions.mint("admin")  # the attacker's copy of the admin's session
    staff = sessions.mint("staff_flags")
    other_agency = sessions.mint("admin2")
    frozen_clock.advance(minutes=5)
    answer = api.post(REVOKE, {"reason": "admin session leaked"}, user=None, headers=session_header(leaked))
    assert answer.status_code == 200, answer.body
    assert answer.json_body["sessionsValidAfter"] == "2026-01-15T12:06:00.000Z"  # + the 60 s clock skew
    assert "sign in again" in answer.json_body["message"]
    for session in (leaked, staff):
        refused = api.get("/me", user=None, headers=session_header(session))
        assert refused.status_code == 401
        assert "ended by an emergency revoke-all" in refused.json_body["message"]
        created = api.post(
            "/agencies/ag1/private-integrations",
            {"name": "backdoor", "scopes": ["locations.readonly"]},
            user=None,
            headers=session_header(session),
        )
        assert created.status_code == 401
    assert IntegrationModel.count() == 0
    # Another agency's sessions are untouched.
    assert api.get("/me", user=None, headers=session_header(other_agency)).status_code == 200
    # The admin signs in again (a session issued after the revoke) and goes on.
    sign_in_again_after_revoke_all(frozen_clock)
    assert api.get("/me").status_code == 200
    assert (
        api.post(
            "/agencies/ag1/private-integrations", {"name": "new", "scopes": ["locations.readonly"]}
        ).status_code
        == 201
    )


def test_a_session_from_a_clock_running_ahead_does_not_survive_revoke_all(
    api: Api, frozen_clock: FakeClock
) -> None:
    """An attacker's review: a session whose `iat` is within the allowed clock skew ahead of ours (the
    platform's clock ran ahead) was accepted, and issued after revoke-all's cut-off, it survived it."""
    frozen_clock.advance(seconds=55)
    ahead = sessions.mint("admin")  # iat = our time + 55 s once the clock is set back
    frozen_clock.advance(seconds=-55)
    assert api.get("/me", user=None, headers=session_header(ahead)).status_code == 200  # within skew
    assert api.post(REVOKE, {"reason": "admin session leaked"}).status_code == 200
    assert api.get("/me", user=None, headers=session_header(ahead)).status_code == 401
    created = api.post(
        "/agencies/ag1/private-integrations",
        {"name": "backdoor", "scopes": ["locations.readonly"]},
        user=None,
        headers=session_header(ahead),
    )
    assert created.status_code == 401
    assert IntegrationModel.count() == 0


def test_revoke_all_is_one_agency_event_with_reason_and_counts(api: Api, frozen_clock: FakeClock) -> None:
    world(api)
    assert api.post(REVOKE, {"reason": "admin session leaked"}).status_code == 200
    sign_in_again_after_revoke_all(frozen_clock)
    feed = api.get("/agencies/ag1/private-integrations/events").json_body["events"]
    summary = [event for event in feed if event["type"] == "agency.revoked_all"]
    assert len(summary) == 1
    assert summary[0]["actorId"] == "admin" and summary[0]["integrationId"] is None
    assert summary[0]["ownerType"] == "agency" and summary[0]["ownerId"] == "ag1"
    assert summary[0]["details"] == {
        "reason": "admin session leaked",
        "revokedIntegrations": 3,
        "revokedTokens": 4,
        "sessionsValidAfter": "2026-01-15T12:01:00.000Z",  # now + the 60 s a session's clock may run ahead
    }
    # ag2 sees nothing of it.
    assert all(
        e["type"] != "agency.revoked_all"
        for e in api.get("/agencies/ag2/private-integrations/events", user="admin2").json_body["events"]
    )


@pytest.mark.parametrize(
    "reason",
    ["x" * 501, "leak\u202egnp.exe", "line\nbreak", "nul\x00", "\x85next", "   "],
)
def test_the_reason_is_validated_like_a_name(api: Api, reason: str) -> None:
    tokens = world(api)
    answer = api.post(REVOKE, {"reason": reason})
    assert answer.status_code == 422, answer.body
    assert "reason" in answer.json_body["message"][0]
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag1"])


def test_a_create_that_began_before_revoke_all_leaves_no_live_token(
    api: Api, monkeypatch: pytest.MonkeyPatch, frozen_clock: FakeClock
) -> None:
    """The create has checked its session and is about to commit when revoke-all runs."""
    leaked = sessions.mint("admin")
    frozen_clock.advance(seconds=30)
    ran: list[int] = []

    def revoke_first() -> None:
        if not ran:
            ran.append(
                emergency.revoke_all("operator:oncall", "ag1", "leaked admin session")["revokedIntegrations"]
            )

    race(monkeypatch, revoke_first)
    created = api.post(
        "/locations/loc1/private-integrations",
        {"name": "backdoor", "scopes": ["locations.readonly"]},
        user=None,
        headers=session_header(leaked),
    )
    monkeypatch.undo()
    assert ran == [0]
    assert created.status_code == 401, created.body
    assert "ended by an emergency revoke-all" in created.json_body["message"]
    assert IntegrationModel.count() == 0 and TokenModel.count() == 0


def test_a_rotation_that_began_before_revoke_all_leaves_no_live_token(
    api: Api, monkeypatch: pytest.MonkeyPatch, frozen_clock: FakeClock
) -> None:
    for expire in ("later", "now"):
        sign_in_again_after_revoke_all(frozen_clock)
        integration_id, token = create(api)
        leaked = sessions.mint("admin")
        frozen_clock.advance(seconds=30)
        ran: list[int] = []

        def revoke_first(ran: list[int] = ran) -> None:
            if not ran:
                ran.append(emergency.revoke_all("operator:oncall", "ag1", "leak")["revokedIntegrations"])

        race(monkeypatch, revoke_first)
        rotated = api.post(
            f"/private-integrations/{integration_id}/rotate",
            {"expire": expire},
            user=None,
            headers=session_header(leaked),
        )
        monkeypatch.undo()
        assert ran == [1]
        assert rotated.status_code in (401, 404), rotated.body
        assert "token" not in (rotated.json_body or {})
        assert not authorizes(token)
        assert IntegrationModel.count() == 0 and TokenModel.count() == 0


def test_creates_and_rotates_racing_revoke_all_leave_no_live_token(api: Api, frozen_clock: FakeClock) -> None:
    """Threads create and rotate with sessions issued before revoke-all while it runs; afterwards no
    token any of them was shown works, and nothing of the agency is left."""
    existing = [create(api) for _ in range(4)]
    before = sessions.mint("admin")
    frozen_clock.advance(seconds=10)
    shown: list[str] = [token for _, token in existing]
    lock = threading.Lock()
    start = threading.Barrier(7)

    def creator(owner: str) -> None:
        user = sessions.authenticate(f"Bearer {before}")
        start.wait()
        for n in range(6):
            try:
                target = (
                    access.location_owner(user, owner) if owner != "ag1" else access.agency_owner(user, "ag1")
                )
                _, plaintext = service.create(
                    user, target, {"name": f"race {n}", "scopes": ["locations.readonly"]}
                )
            except (Unauthorized, NotFound, Conflict):
                continue
            with lock:
                shown.append(plaintext)

    def rotator(integration_id: str) -> None:
        user = sessions.authenticate(f"Bearer {before}")
        start.wait()
        for expire in ("later", "now", "now"):
            try:
                target = access.manageable(user, integration_id)
                _, plaintext = lifecycle.rotate(user, target, expire)
            except (Unauthorized, NotFound, Conflict):
                continue
            with lock:
                shown.append(plaintext)

    def revoker() -> None:
        start.wait()
        emergency.revoke_all("operator:oncall", "ag1", "race drill")

    threads = [threading.Thread(target=creator, args=(owner,)) for owner in ("loc1", "loc2", "ag1")]
    threads += [threading.Thread(target=rotator, args=(i,)) for i, _ in existing[:3]]
    threads.append(threading.Thread(target=revoker))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not [token for token in shown if authorizes(token)]
    assert [i for i in IntegrationModel.scan(consistent_read=True) if i.agency_id == "ag1"] == []
    assert TokenModel.count() == 0
