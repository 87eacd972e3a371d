"""IP allowlists per integration (issue 28), as an owner and an integrator see them over HTTP.

An integration takes `allowedIps` (at most 50 IPv4/IPv6 addresses or CIDR blocks; [] = any address) and
`ipRestriction` ("enforce" | "report"). The token items carry the list, so the authorizer still reads
once; a caller outside an enforced list gets 403 naming its address, a caller outside a reported list is
let in and marked `outsideAllowlist` = "true" in the authorizer context. The caller's address is what
API Gateway puts in `context.identity.sourceIp` (here: `gateway.client_address`).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.core import config
from chalicelib.tokens import allowlist, authorizer, authorizer_cache, catalog, entry, token_text
from chalicelib.tokens.models import TokenModel
from local import gateway, iam
from local.dynamodb_calls import recording
from local.item_size import item_bytes, read_units
from tests.support.lifecycle_helpers import ARN, assert_consistent, cancel, rotate
from tests.support.v2_client import LOCATION_SCOPES, V
from tests.support.world import Api

OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def create(api: Api, **fields: Any) -> tuple[str, str]:
    body = {"name": "app", "scopes": LOCATION_SCOPES, **fields}
    response = api.post("/locations/loc1/private-integrations", body)
    assert response.status_code == 201, response.body
    return response.json_body["privateIntegration"]["id"], response.json_body["token"]


def call(api: Api, token: str, source_ip: str, path: str = "/locations/loc1") -> Any:
    with gateway.client_address(source_ip):
        return api.request("GET", path, user=None, headers={"Authorization": f"Bearer {token}", **V})


def shown(api: Api, integration_id: str) -> dict[str, Any]:
    return dict(api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"])


def request_event(token: str, source_ip: str | None, header: str = "Authorization") -> dict[str, Any]:
    """What API Gateway sends the deployed REQUEST authorizer."""
    identity = {} if source_ip is None else {"sourceIp": source_ip}
    return {
        "type": "REQUEST",
        "methodArn": ARN,
        "headers": {header: f"Bearer {token}", "X-Forwarded-For": OFFICE},
        "requestContext": {"identity": identity},
    }


def test_an_integration_without_a_list_works_from_anywhere_and_shows_the_defaults(api: Api) -> None:
    integration_id, token = create(api)
    assert shown(api, integration_id)["allowedIps"] == []
    assert shown(api, integration_id)["ipRestriction"] == "enforce"
    for address in (OFFICE, ELSEWHERE, "2001:db8::1"):
        assert call(api, token, address).status_code == 200


def test_an_enforced_ipv4_list_refuses_other_addresses_with_403_naming_the_caller(api: Api) -> None:
    _, token = create(api, allowedIps=["203.0.113.0/24", "192.0.2.1"])
    assert call(api, token, OFFICE).status_code == 200
    assert call(api, token, "192.0.2.1").status_code == 200
    refused = call(api, token, ELSEWHERE)
    assert refused.status_code == 403
    body = refused.json_body
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == 403
    assert ELSEWHERE in body["message"] and "restricts the addresses" in body["message"]
    # Nothing about the list itself, and not the scope answer.
    assert "203.0.113" not in body["message"] and "192.0.2.1" not in body["message"]
    assert "scope" not in body["message"]
    assert refused.headers["X-Trace-Id"]


def test_the_address_403_differs_from_the_scope_403(api: Api) -> None:
    _, token = create(api, allowedIps=[OFFICE], scopes=["locations.readonly"])
    scope = call(api, token, OFFICE, "/contacts/c1")
    address = call(api, token, ELSEWHERE, "/contacts/c1")
    assert scope.status_code == address.status_code == 403
    assert "it needs contacts.readonly" in scope.json_body["message"]
    assert "restricts the addresses" not in scope.json_body["message"]
    assert "restricts the addresses" in address.json_body["message"]


def test_ipv6_blocks_single_addresses_and_mapped_callers(api: Api) -> None:
    _, token = create(api, allowedIps=["2001:db8:abcd::/48", "2001:db8::1/128", "::ffff:192.0.2.0/120"])
    assert call(api, token, "2001:db8:abcd:12::5").status_code == 200
    assert call(api, token, "2001:db8::1").status_code == 200
    assert call(api, token, "2001:db8::2").status_code == 403
    assert call(api, token, "192.0.2.77").status_code == 200  # the mapped entry is its IPv4 block
    assert call(api, token, "::ffff:192.0.2.77").status_code == 200  # a mapped caller is its IPv4 address
    assert call(api, token, "192.0.3.1").status_code == 403


def test_slash_zero_and_host_prefixes(api: Api) -> None:
    _, any_v4 = create(api, allowedIps=["0.0.0.0/0"])
    assert call(api, any_v4, ELSEWHERE).status_code == 200
    assert call(api, any_v4, "2001:db8::1").status_code == 403  # /0 of IPv4 is every IPv4 address only
    _, any_v6 = create(api, allowedIps=["::/0"])
    assert call(api, any_v6, "2001:db8::1").status_code == 200
    assert call(api, any_v6, ELSEWHERE).status_code == 403
    _, one = create(api, allowedIps=["203.0.113.7/32", "2001:db8::7/128"])
    assert call(api, one, OFFICE).status_code == 200 and call(api, one, "203.0.113.8").status_code == 403
    assert call(api, one, "2001:db8::7").status_code == 200
    assert call(api, one, "2001:db8::8").status_code == 403


def test_entries_are_stored_normalised_and_the_create_is_audited(api: Api) -> None:
    sent = [" 10.1.2.3/8", "::ffff:203.0.113.7", "2001:DB8::1/128", "10.0.0.0/8"]
    integration_id, _ = create(api, allowedIps=sent, ipRestriction="report")
    assert shown(api, integration_id)["allowedIps"] == ["10.0.0.0/8", "203.0.113.7", "2001:db8::1"]
    assert shown(api, integration_id)["ipRestriction"] == "report"
    created = api.get(f"/private-integrations/{integration_id}/events").json_body["events"][0]
    assert created["type"] == "integration.created"
    assert created["details"]["allowedIps"] == ["10.0.0.0/8", "203.0.113.7", "2001:db8::1"]
    assert created["details"]["ipRestriction"] == "report"


def test_a_narrowed_list_applies_at_the_next_request_and_the_edit_is_audited(api: Api) -> None:
    integration_id, token = create(api, allowedIps=["203.0.113.0/24", "198.51.100.0/24"])
    assert call(api, token, ELSEWHERE).status_code == 200
    edited = api.patch(f"/private-integrations/{integration_id}", {"allowedIps": ["203.0.113.0/24"]})
    assert edited.status_code == 200, edited.body
    assert edited.json_body["privateIntegration"]["allowedIps"] == ["203.0.113.0/24"]
    assert call(api, token, ELSEWHERE).status_code == 403  # the very next request
    assert call(api, token, OFFICE).status_code == 200
    change = api.get(f"/private-integrations/{integration_id}/events").json_body["events"][0]
    assert change["type"] == "integration.updated"
    assert change["details"]["changes"] == {
        "allowedIps": {"before": ["203.0.113.0/24", "198.51.100.0/24"], "after": ["203.0.113.0/24"]}
    }
    # Back to any address.
    assert api.patch(f"/private-integrations/{integration_id}", {"allowedIps": []}).status_code == 200
    assert call(api, token, ELSEWHERE).status_code == 200
    assert_consistent()


def test_report_mode_lets_outsiders_in_and_marks_them_in_the_context(api: Api) -> None:
    integration_id, token = create(api, allowedIps=[OFFICE], ipRestriction="report")
    assert call(api, token, ELSEWHERE).status_code == 200
    event = request_event(token, ELSEWHERE)
    assert entry.handler(event, None)["context"]["outsideAllowlist"] == "true"
    assert entry.handler(request_event(token, OFFICE), None)["context"]["outsideAllowlist"] == "false"
    # Switching to enforce applies at the next request; back to report lets it in again.
    switched = api.patch(f"/private-integrations/{integration_id}", {"ipRestriction": "enforce"})
    assert switched.status_code == 200
    assert call(api, token, ELSEWHERE).status_code == 403
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    assert events[0]["details"]["changes"] == {"ipRestriction": {"before": "report", "after": "enforce"}}
    back = api.patch(f"/private-integrations/{integration_id}", {"ipRestriction": "report"})
    assert back.status_code == 200
    assert call(api, token, ELSEWHERE).status_code == 200


def test_the_context_of_a_token_without_a_list_says_not_outside(api: Api) -> None:
    _, token = create(api)
    assert entry.handler(request_event(token, ELSEWHERE), None)["context"]["outsideAllowlist"] == "false"


def test_the_request_authorizer_reads_the_header_in_any_case_and_never_x_forwarded_for(api: Api) -> None:
    _, token = create(api, allowedIps=[OFFICE])
    for header in ("Authorization", "authorization", "AUTHORIZATION"):
        answer = entry.handler(request_event(token, OFFICE, header), None)
        assert iam.evaluate(answer["policyDocument"], ARN)
    # X-Forwarded-For names the office; the connection came from elsewhere.
    refused = entry.handler(request_event(token, ELSEWHERE), None)
    assert not iam.evaluate(refused["policyDocument"], ARN)
    assert refused["context"]["refusal"] == "address" and refused["context"]["sourceIp"] == ELSEWHERE
    # Nothing about the token for whoever holds it from the wrong place (a downstream API's own 403
    # template may render the context): the integration and which token, for counting, and why.
    assert set(refused["context"]) == {"integrationId", "tokenRole", "refusal", "sourceIp"}
    with gateway.client_address(ELSEWHERE):
        spoofed = api.request(
            "GET",
            "/locations/loc1",
            user=None,
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": OFFICE, **V},
        )
    assert spoofed.status_code == 403 and ELSEWHERE in spoofed.json_body["message"]


def test_without_an_address_an_enforced_list_refuses_and_a_reported_one_marks(api: Api) -> None:
    """A TOKEN-typed attachment (or a REQUEST event without sourceIp) gives no address: fail closed."""
    _, enforced = create(api, allowedIps=[OFFICE])
    token_event = {"type": "TOKEN", "authorizationToken": f"Bearer {enforced}", "methodArn": ARN}
    answer = entry.handler(token_event, None)
    assert not iam.evaluate(answer["policyDocument"], ARN)
    assert answer["context"]["sourceIp"] == "unknown"
    assert not iam.evaluate(entry.handler(request_event(enforced, None), None)["policyDocument"], ARN)
    _, reported = create(api, allowedIps=[OFFICE], ipRestriction="report")
    answer = authorizer.authorize(f"Bearer {reported}", ARN)
    assert iam.evaluate(answer["policyDocument"], ARN) and answer["context"]["outsideAllowlist"] == "true"


def test_still_one_read_per_authorization_and_a_refusal_is_not_a_use(api: Api) -> None:
    integration_id, token = create(api, allowedIps=[OFFICE])
    with recording() as calls:
        entry.handler(request_event(token, ELSEWHERE), None)
    assert calls.operations() == ["GetItem"]  # no lastUsedAt write for a refusal
    assert shown(api, integration_id)["lastUsedAt"] is None
    with recording() as calls:
        entry.handler(request_event(token, OFFICE), None)
    assert calls.operations() == ["GetItem", "UpdateItem"]  # the read, then lastUsedAt
    assert shown(api, integration_id)["lastUsedAt"] is not None


def test_rotations_carry_the_list_and_edits_reach_both_live_tokens(api: Api) -> None:
    integration_id, old = create(api, allowedIps=[OFFICE])
    rotated = rotate(api, integration_id, "later")
    new = rotated.json_body["token"]
    for token in (old, new):
        assert call(api, token, OFFICE).status_code == 200 and call(api, token, ELSEWHERE).status_code == 403
    moved = api.patch(f"/private-integrations/{integration_id}", {"allowedIps": [ELSEWHERE]})
    assert moved.status_code == 200
    for token in (old, new):
        assert call(api, token, OFFICE).status_code == 403 and call(api, token, ELSEWHERE).status_code == 200
    assert_consistent()
    assert cancel(api, integration_id).status_code == 200  # the old token is current again, as edited
    assert call(api, old, ELSEWHERE).status_code == 200 and call(api, old, OFFICE).status_code == 403
    now = rotate(api, integration_id, "now").json_body["token"]
    assert call(api, now, ELSEWHERE).status_code == 200 and call(api, now, OFFICE).status_code == 403
    assert_consistent()


def test_every_live_token_item_carries_the_packed_list(api: Api) -> None:
    integration_id, token = create(api, allowedIps=["10.0.0.0/8"], ipRestriction="report")
    item = TokenModel.get(token_text.digest(token))
    assert item.allowlist == allowlist.pack("report", ["10.0.0.0/8"])
    api.patch(f"/private-integrations/{integration_id}", {"allowedIps": []})
    assert TokenModel.get(token_text.digest(token)).allowlist is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"allowedIps": "10.0.0.1"}, "allowedIps must be a list"),
        ({"allowedIps": None}, "allowedIps must be a list"),
        ({"allowedIps": ["10.0.0.1", "10.0.0.300"]}, "allowedIps[1] ('10.0.0.300')"),
        ({"allowedIps": ["10.0.0.0/33"]}, "allowedIps[0] ('10.0.0.0/33'): the prefix /33 is longer than"),
        ({"allowedIps": ["2001:db8::/129"]}, "the prefix /129 is longer than an IPv6 address"),
        ({"allowedIps": [f"10.0.0.{n}" for n in range(51)]}, "at most 50"),
        ({"allowedIps": [42]}, "allowedIps[0] must be a string"),
        ({"ipRestriction": "off"}, "ipRestriction must be 'enforce'"),
        ({"ipRestriction": None}, "ipRestriction must be 'enforce'"),
    ],
)
def test_bad_lists_are_422_naming_the_entry(api: Api, body: dict[str, Any], says: str) -> None:
    integration_id, _ = create(api)
    for response in (
        api.patch(f"/private-integrations/{integration_id}", body),
        api.post("/locations/loc1/private-integrations", {"name": "n", "scopes": LOCATION_SCOPES, **body}),
    ):
        assert response.status_code == 422, response.body
        assert any(says in problem for problem in response.json_body["message"]), response.json_body
    assert shown(api, integration_id)["allowedIps"] == []


@pytest.fixture
def stubbed_apigateway(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("apigateway", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(authorizer_cache, "_client", lambda: client)
    monkeypatch.setattr(config, "settings", config.settings._replace(cache_flush_targets=("down1/prod",)))
    with stubber:
        yield stubber


@pytest.mark.parametrize(
    "change", [{"allowedIps": [OFFICE]}, {"allowedIps": []}, {"ipRestriction": "report"}]
)
def test_a_changed_list_flushes_api_gateways_authorizer_cache(
    api: Api, stubbed_apigateway: Stubber, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    """API Gateway caches a decision per token and address for the TTL: any change of the list or its
    mode (a widening too: a cached Deny) flushes it, as a narrowing scope edit does."""
    integration_id, _ = create(api, allowedIps=["10.0.0.0/8"])
    stubbed_apigateway.add_response(
        "flush_stage_authorizers_cache", {}, {"restApiId": "down1", "stageName": "prod"}
    )
    assert api.patch(f"/private-integrations/{integration_id}", change).status_code == 200
    stubbed_apigateway.assert_no_pending_responses()
    # An unchanged list (normalised the same) changes nothing and flushes nothing.
    flushes: list[Any] = []

    def counted(own_api: Any = None) -> int:
        flushes.append(own_api)
        return 0

    monkeypatch.setattr(authorizer_cache, "flush", counted)
    assert api.patch(f"/private-integrations/{integration_id}", change).status_code == 200
    assert flushes == []


def test_the_largest_token_item_with_fifty_ipv6_blocks_still_fits_one_read_unit(api: Api) -> None:
    """Every scope of a location token and 50 IPv6 /64 blocks: one 4 KB read unit. (50 single IPv6
    addresses with every scope take 2 units: still one GetItem; `make bench` prints both sizes.)"""
    every = sorted(s for s, levels in catalog.scope_levels().items() if "location" in levels)
    blocks = [f"2001:db8:{n:x}:{n:x}::/64" for n in range(allowlist.MAX_ENTRIES)]
    _, token = create(api, scopes=every, allowedIps=blocks)
    raw = TokenModel.get(token_text.digest(token)).serialize()
    assert read_units(raw) == 1, item_bytes(raw)


def test_a_damaged_stored_list_fails_closed(api: Api) -> None:
    """A token item whose packed list cannot be read is a 500 (retry), never an Allow."""
    _, token = create(api, allowedIps=[OFFICE])
    TokenModel(token_text.digest(token)).update(actions=[TokenModel.allowlist.set(b"e\x04\x21")])
    for address in (OFFICE, ELSEWHERE):
        response = call(api, token, address)
        assert response.status_code == 500 and "could not be checked" in response.json_body["message"]
