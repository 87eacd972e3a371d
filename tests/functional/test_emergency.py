"""Emergency revoke of every token of an agency: the route and the operator's script."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.audit.model import EventModel
from chalicelib.integrations.models import IntegrationModel
from scripts import revoke_all as script
from tests.support.lifecycle_helpers import assert_consistent, create, rotate
from tests.support.world import Api

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


def test_every_token_of_the_agency_is_refused_on_its_next_request_and_audited(api: Api) -> None:
    tokens = world(api)
    assert all(call_v2(api, token, path) == 200 for token, path in tokens["ag1"] + tokens["ag2"])
    answer = api.post(REVOKE, {"reason": "admin session leaked"})
    assert answer.status_code == 200, answer.body
    assert answer.json_body == {"agencyId": "ag1", "revokedIntegrations": 3}
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
    # Nothing left: a second call revokes nothing and succeeds.
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
