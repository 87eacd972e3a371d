"""Every action x every AWS call it makes x {throttling, connection error, commit then timeout}.

Afterwards the tables keep their invariants, the caller's answer is true to what happened (a success
did everything, a 503 did nothing), every token the tables hold was shown to someone, and no expiry
moved later. The authorizer fails closed on a database failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import tables
from chalicelib.audit.models import EventModel
from chalicelib.core import clock, config, db
from chalicelib.http.gateway_responses import Context as GatewayContext
from chalicelib.http.gateway_responses import authorizer_failure
from chalicelib.integrations import cleanup
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import token_text
from chalicelib.tokens.models import TokenModel
from local.github_signing import PATH, GitHubKey, body_of, keys_document, match
from tests.support.bus import Bus
from tests.support.faults import COMMIT_THEN_TIMEOUT, KINDS, Faults, install
from tests.support.lifecycle_helpers import assert_consistent, authorizes, cancel, create, expire_now, rotate
from tests.support.world import Api, FakeClock, seeded_world

Context = dict[str, Any]


@dataclass(frozen=True)
class Action:
    setup: Callable[[Api], Context]
    act: Callable[[Api, Context], Any]
    effect: Callable[[Api, Context, Any], None]  # what a success must have done
    # For an action of several transactions: what a 503 may have done (instead of nothing).
    partial: Callable[[Api, Context, Any], None] | None = None


def _created(api: Api) -> Context:
    integration_id, token = create(api)
    return {"id": integration_id, "tokens": [token], "old": token}


def _rotating(api: Api) -> Context:
    context = _created(api)
    new = rotate(api, context["id"], "later").json_body["token"]
    context["tokens"].append(new)
    context["new"] = new
    return context


def _integration(context: Context) -> str:
    return f"/private-integrations/{context['id']}"


def _shows_committed_state(api: Api, context: Context, response: Any) -> None:
    """The answer is the state the tables now hold (no stale read, no guess)."""
    now = api.get(_integration(context)).json_body["privateIntegration"]
    assert response.json_body["privateIntegration"] == now


def _created_effect(api: Api, context: Context, response: Any) -> None:
    assert response.status_code == 201
    assert authorizes(response.json_body["token"])
    assert IntegrationModel.count() == 1


def _edited(api: Api, context: Context, response: Any) -> None:
    _shows_committed_state(api, context, response)
    assert TokenModel.get(token_text.digest(context["old"])).scopes == ["contacts.write"]


def _rotated_later(api: Api, context: Context, response: Any) -> None:
    _shows_committed_state(api, context, response)
    assert authorizes(context["old"]) and authorizes(response.json_body["token"])


def _rotated_now(api: Api, context: Context, response: Any) -> None:
    _shows_committed_state(api, context, response)
    assert authorizes(response.json_body["token"])
    assert not authorizes(context["old"]) and not authorizes(context["new"])


def _cancelled(api: Api, context: Context, response: Any) -> None:
    _shows_committed_state(api, context, response)
    assert authorizes(context["old"]) and not authorizes(context["new"])


def _expired(api: Api, context: Context, response: Any) -> None:
    _shows_committed_state(api, context, response)
    assert authorizes(context["new"]) and not authorizes(context["old"])


def _created_expiring(api: Api, context: Context, response: Any) -> None:
    _created_effect(api, context, response)
    item = TokenModel.get(token_text.digest(response.json_body["token"]))
    assert item.expires_at is not None and item.due_at is not None
    assert response.json_body["privateIntegration"]["token"]["expiresAt"] == clock.iso(item.expires_at)


def _expiring_rotated_later(api: Api, context: Context, response: Any) -> None:
    _rotated_later(api, context, response)
    new = TokenModel.get(token_text.digest(response.json_body["token"]))
    assert new.expires_at is not None
    assert response.json_body["privateIntegration"]["token"]["expiresAt"] == clock.iso(new.expires_at)


def _deleted(api: Api, context: Context, response: Any) -> None:
    assert response.status_code == 204
    assert api.get(_integration(context)).status_code == 404
    assert not any(authorizes(token) for token in context["tokens"])


def _permission_granted(api: Api, context: Context, response: Any) -> None:
    assert response.json_body["privateIntegrations"]["agency"] is True
    assert api.get("/agencies/ag1/users/staff/permissions").json_body == response.json_body


def _labs_off(api: Api, context: Context, response: Any) -> None:
    assert response.json_body == {"privateIntegrations": False}
    assert api.get("/agencies/ag1/labs").json_body == {"privateIntegrations": False}


def _two_integrations(api: Api) -> Context:
    context = _rotating(api)
    _, other = create(api)
    context["tokens"].append(other)
    context["other"] = other
    return context


def _revoke_all(api: Api, context: Context) -> Any:
    return api.post("/agencies/ag1/private-integrations/revoke-all", {"reason": "leak"})


def _all_revoked(api: Api, context: Context, response: Any) -> None:
    assert response.json_body["revokedIntegrations"] == 2 and response.json_body["revokedTokens"] == 3
    assert [e.details for e in EventModel.scan() if e.type == "agency.revoked_all"] != []
    assert not any(authorizes(token) for token in context["tokens"])
    assert IntegrationModel.count() == 0


def _revoked_some(api: Api, context: Context, response: Any) -> None:
    """A 503 says how many were revoked (each one whole: its tokens and its event); calling again
    (signed in again: the first call ended the sessions) revokes the rest."""
    now = clock.now()
    left = IntegrationModel.count()
    said = response.json_body["message"]
    assert f"{2 - left} of 2 private integrations were revoked" in said or (
        left == 2 and "no private integration was revoked yet" in said
    ), said
    later = now + timedelta(seconds=config.settings.session_clock_skew_seconds + 1)
    clock.set_source(lambda: later)  # the admin signs in again
    try:
        again = _revoke_all(api, context)
    finally:
        clock.set_source(lambda: now)
    assert again.json_body["revokedIntegrations"] == left
    assert not any(authorizes(token) for token in context["tokens"])


GITHUB = GitHubKey()


def _leak_world(api: Api) -> Context:
    """Two integrations, one rotating, and GitHub's keys in a fresh SSM parameter (so its read is one
    of the faulted calls: a throttled read of the keys is a 503, never a 401 or a half-done report)."""
    context = _two_integrations(api)
    context["parameter"] = f"/test/github-keys-{uuid.uuid4().hex}"
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=context["parameter"], Value=keys_document(GITHUB), Type="String"
    )
    return context


def _report(leaked: Callable[[Context], list[str]]) -> Callable[[Api, Context], Any]:
    def act(api: Api, context: Context) -> Any:
        raw = body_of([match(token) for token in leaked(context)])
        with pytest.MonkeyPatch.context() as patch:
            keys_from = config.settings._replace(github_keys_parameter=context["parameter"])
            patch.setattr(config, "settings", keys_from)
            return api.client.http.post(PATH, headers=GITHUB.headers(raw), body=raw)

    return act


def _leaked(*names: str) -> Callable[[Api, Context, Any], None]:
    """Every reported token is revoked (and labelled so); the others still work."""

    def effect(api: Api, context: Context, response: Any) -> None:
        assert [entry["label"] for entry in response.json_body] == ["true_positive"] * len(names)
        reported = {context[name] for name in names}
        assert not any(authorizes(token) for token in reported)
        assert all(authorizes(token) for token in set(context["tokens"]) - reported)

    return effect


def _reported_again(*names: str) -> Callable[[Api, Context, Any], None]:
    """A 503 after some of the batch was revoked (each token whole): GitHub's retry does the rest."""

    def partial(api: Api, context: Context, response: Any) -> None:
        again = _report(lambda c: [c[name] for name in names])(api, context)
        _leaked(*names)(api, context, again)

    return partial


CONTACT_SCOPES = ["contacts.readonly", "contacts.write"]


def _with_token(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    return api.request(method, path, user=None, body=body, headers={"Authorization": f"Bearer {token}"})


def _contact_world(api: Api) -> Context:
    _, token = create(api, CONTACT_SCOPES)
    created = _with_token(api, "POST", "/contacts/", token, {"locationId": "loc1", "email": "a@b.co"})
    assert created.status_code == 201, created.body
    return {"tokens": [token], "token": token, "contact": created.json_body["contact"]["id"]}


def _contact(api: Api, context: Context) -> Any:
    return _with_token(api, "GET", f"/contacts/{context['contact']}", context["token"])


def _contact_created(api: Api, context: Context, response: Any) -> None:
    assert response.status_code == 201
    context["contact"] = response.json_body["contact"]["id"]
    assert _contact(api, context).json_body == {"contact": response.json_body["contact"]}


def _contact_updated(api: Api, context: Context, response: Any) -> None:
    assert response.json_body["succeded"] is True
    assert _contact(api, context).json_body["contact"]["email"] == "new@b.co"


def _contact_deleted(api: Api, context: Context, response: Any) -> None:
    assert response.json_body == {"succeded": True}
    assert _contact(api, context).status_code == 404


ACTIONS = {
    "create": Action(
        lambda api: {"tokens": []},
        lambda api, c: api.post(
            "/locations/loc1/private-integrations", {"name": "app", "scopes": ["contacts.readonly"]}
        ),
        _created_effect,
    ),
    "edit": Action(
        _created, lambda api, c: api.patch(_integration(c), {"scopes": ["contacts.write"]}), _edited
    ),
    "rotate later": Action(_created, lambda api, c: rotate(api, c["id"], "later"), _rotated_later),
    "create expiring": Action(
        lambda api: {"tokens": []},
        lambda api, c: api.post(
            "/locations/loc1/private-integrations",
            {"name": "app", "scopes": ["contacts.readonly"], "expiresInDays": 30},
        ),
        _created_expiring,
    ),
    "rotate later expiring": Action(
        _created,
        lambda api, c: api.post(
            f"/private-integrations/{c['id']}/rotate", {"expire": "later", "expiresInDays": 10}
        ),
        _expiring_rotated_later,
    ),
    "rotate now": Action(_rotating, lambda api, c: rotate(api, c["id"], "now"), _rotated_now),
    "cancel": Action(_rotating, lambda api, c: cancel(api, c["id"]), _cancelled),
    "expire now": Action(_rotating, lambda api, c: expire_now(api, c["id"]), _expired),
    "delete": Action(_rotating, lambda api, c: api.delete(_integration(c)), _deleted),
    "revoke all": Action(_two_integrations, _revoke_all, _all_revoked, _revoked_some),
    # GitHub reports the current token of a rotating integration (its old token keeps its overlap).
    "leak report": Action(_leak_world, _report(lambda c: [c["new"]]), _leaked("new")),
    # A batch: the rotating-out token and the other integration's current token.
    "leak report batch": Action(
        _leak_world,
        _report(lambda c: [c["old"], c["other"]]),
        _leaked("old", "other"),
        _reported_again("old", "other"),
    ),
    "permissions": Action(
        lambda api: {"tokens": []},
        lambda api, c: api.put(
            "/agencies/ag1/users/staff/permissions", {"privateIntegrations": {"agency": True}}
        ),
        _permission_granted,
    ),
    "contact create": Action(
        lambda api: {"tokens": [t := create(api, CONTACT_SCOPES)[1]], "token": t},
        lambda api, c: _with_token(
            api, "POST", "/contacts/", c["token"], {"locationId": "loc1", "email": "x@b.co"}
        ),
        _contact_created,
    ),
    "contact update": Action(
        _contact_world,
        lambda api, c: _with_token(
            api, "PUT", f"/contacts/{c['contact']}", c["token"], {"email": "new@b.co"}
        ),
        _contact_updated,
    ),
    "contact delete": Action(
        _contact_world,
        lambda api, c: _with_token(api, "DELETE", f"/contacts/{c['contact']}", c["token"]),
        _contact_deleted,
    ),
    "labs": Action(
        lambda api: {"tokens": []},
        lambda api, c: api.put("/agencies/ag1/labs", {"privateIntegrations": False}),
        _labs_off,
    ),
}


def snapshot() -> dict[str, list[Any]]:
    """Every item of every table except the audit log, lastUsedAt and the rate limiter's counters (they
    count requests, also refused ones), sorted: to compare before/after."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    state: dict[str, list[Any]] = {}
    for model in tables.ALL_MODELS:
        if model in (tables.EventModel, tables.CounterModel):
            continue
        items = ddb.scan(TableName=model.Meta.table_name, ConsistentRead=True)["Items"]
        for item in items:
            item.pop("lastUsedAt", None)
        state[model.Meta.table_name] = sorted(items, key=repr)
    return state


def expiries() -> dict[str, int | None]:
    return {
        t.token_hash: (int(t.expires_at.timestamp()) if t.expires_at else None) for t in TokenModel.scan()
    }


def check_truthful(name: str, api: Api, context: Context, before: dict[str, Any], response: Any) -> None:
    action = ACTIONS[name]
    assert response.status_code in (200, 201, 204, 500, 503), (response.status_code, response.body)
    if response.status_code == 500:
        # Only the authorizer answers 500 (it could not read the token): fail closed, nothing written.
        trace_id = response.headers["X-Trace-Id"]
        assert response.json_body == authorizer_failure(GatewayContext(trace_id=trace_id))
        assert snapshot() == before["tables"]
    elif response.status_code == 503:
        assert response.headers["Retry-After"] == "2"
        assert response.json_body["error"] == "Service Unavailable"
        if action.partial is not None and snapshot() != before["tables"]:
            action.partial(api, context, response)
        else:
            assert snapshot() == before["tables"], "a 503 must leave nothing written"
    else:
        if "token" in (response.json_body or {}):
            context["tokens"].append(response.json_body["token"])
        action.effect(api, context, response)
    assert_consistent()
    shown = {token_text.digest(token) for token in context["tokens"]}
    held = {t.token_hash for t in TokenModel.scan(consistent_read=True)}
    assert held <= shown, "a token was committed but never shown"
    for token_hash, expires in expiries().items():
        earlier = before["expiries"].get(token_hash, "new")
        if earlier not in ("new", None) and not (name == "cancel" and response.status_code == 200):
            assert expires is not None and expires <= earlier, "an expiry moved later"


def run_with_fault(
    name: str, client: Client, monkeypatch: pytest.MonkeyPatch, index: int | None, kind: str
) -> tuple[int, list[str]]:
    """One fresh world: set up, act with the fault armed at call `index`, check. Returns (status, calls)."""
    action = ACTIONS[name]
    with seeded_world():
        api = Api(client)
        context = action.setup(api)
        before = {"tables": snapshot(), "expiries": expiries()}
        faults = install(monkeypatch)
        if index is not None:
            faults.arm(index, kind)
        response = action.act(api, context)
        calls = faults.operations()
        monkeypatch.undo()
        check_truthful(name, api, context, before, response)
        return response.status_code, calls


@pytest.fixture
def client(frozen_clock: FakeClock) -> Any:
    from app import app
    from local.gateway import install_api_gateway_behaviour

    install_api_gateway_behaviour()
    with Client(app) as chalice_client:
        yield chalice_client


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_call_of_every_action_can_fail(
    name: str, kind: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, calls = run_with_fault(name, client, monkeypatch, None, kind)
    assert status in (200, 201, 204)
    assert "dynamodb.TransactWriteItems" in calls
    outcomes = []
    for index, operation in enumerate(calls):
        status, _ = run_with_fault(name, client, monkeypatch, index, kind)
        outcomes.append((operation, status))
        if kind == COMMIT_THEN_TIMEOUT:
            # The call was carried out and botocore resent it: the action must still succeed.
            assert status in (200, 201, 204), (index, operation)
    if kind != COMMIT_THEN_TIMEOUT:
        write = calls.index("dynamodb.TransactWriteItems")
        assert outcomes[write][1] == 503, outcomes


# --- the scheduled cleanup ------------------------------------------------------------------------


def _due_world(api: Api, clock: FakeClock) -> dict[str, str]:
    """One rotation whose overlap has ended, one token due for its 90-day reminder, and one token
    due for its 7-day expiry notice."""
    rotating_id, _ = create(api)
    rotate(api, rotating_id, "later")
    reminded_id, reminded_token = create(api)
    clock.advance(days=83)
    expiring = api.post(
        "/locations/loc1/private-integrations",
        {"name": "app", "scopes": ["contacts.readonly"], "expiresInDays": 14},
    ).json_body
    clock.advance(days=7)
    return {
        "rotating": rotating_id,
        "reminded": reminded_id,
        "token": reminded_token,
        "expiring": expiring["privateIntegration"]["id"],
        "expiring_token": expiring["token"],
    }


def _recorded(integration_id: str, event_type: str) -> int:
    return sum(
        1
        for event in EventModel.scan(consistent_read=True)
        if event.integration_id == integration_id and event.type == event_type
    )


def _run_cleanup() -> dict[str, int]:
    return cleanup.run(parallel=False)  # the same order of calls every time, so every call is faulted


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_cleanup_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = frozen_clock.current

    def world_calls(index: int | None) -> tuple[list[str], Faults]:
        frozen_clock.current = start
        with seeded_world():
            api = Api(client)
            world = _due_world(api, frozen_clock)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                summary = _run_cleanup()  # a failing token must not stop the run
            except Exception as error:
                # Only an unreadable shard of the due index fails the run (after the other shards'
                # work is done); the next run reads it again.
                assert db.is_unavailable(error)
                assert any(c.fault and c.operation == "dynamodb.Query" for c in faults.calls)
                summary = {"itemsRead": 1}
            calls = faults.operations()
            faults.armed.clear()
            # The next run: everything due is done, and each notice recorded exactly once (the outbox
            # publishes what is recorded; the cleanup itself never calls EventBridge).
            _run_cleanup()
            monkeypatch.undo()
            assert summary["itemsRead"] >= 1
            assert _recorded(world["reminded"], "token.rotation_recommended") == 1, "a reminder was lost"
            assert _recorded(world["expiring"], "token.expiring") == 1, "an expiry notice was lost"
            reminded = TokenModel.get(token_text.digest(world["token"]))
            assert reminded.rotation_notified and reminded.due_at is None
            expiring = TokenModel.get(token_text.digest(world["expiring_token"]))
            assert expiring.expiry_notice == "7d"
            rotating = IntegrationModel.get(world["rotating"])
            assert rotating.previous_token_hash is None
            assert_consistent()
            return calls, faults

    calls, _ = world_calls(None)
    assert "dynamodb.TransactWriteItems" in calls
    assert not [call for call in calls if call.startswith("eventbridge.")]
    for index in range(len(calls)):
        world_calls(index)


# --- the outbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_publisher_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutEvents failing, or its answer lost, at each call: every event still reaches EventBridge
    (at least once; a lost answer is the one case of a duplicate, which consumers drop by id)."""

    def world_calls(index: int | None) -> list[str]:
        with seeded_world():
            api = Api(client)
            for _ in range(12):  # two PutEvents calls: 10 entries, then 2
                create(api)
            bus = Bus()
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            bus.mapping.drain()
            calls = [c.operation for c in faults.calls if c.operation.startswith("eventbridge.")]
            monkeypatch.undo()
            published = [message["detail"]["id"] for message in bus.published()]
            stored = {event.id for event in EventModel.scan()}
            assert set(published) == stored, "an event was lost"
            if kind != COMMIT_THEN_TIMEOUT:
                assert len(published) == len(stored), "an event was published twice"
            assert bus.dead_lettered() == []
            return calls

    calls = world_calls(None)
    assert calls == ["eventbridge.PutEvents", "eventbridge.PutEvents"]
    # Fault each PutEvents call (counted among every call the fault wrapper sees).
    with seeded_world():
        api = Api(client)
        for _ in range(12):
            create(api)
        bus = Bus()
        faults = install(monkeypatch)
        bus.mapping.drain()
        indexes = [i for i, c in enumerate(faults.calls) if c.operation == "eventbridge.PutEvents"]
        monkeypatch.undo()
    for index in indexes:
        world_calls(index)


# --- the authorizer -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_authorizer_fails_closed(kind: str, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = create(api)
    faults = install(monkeypatch)
    faults.arm(0, kind)
    response = api.client.http.get(
        "/locations/loc1", headers={"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    )
    assert faults.operations()[0] == "dynamodb.GetItem"
    if kind == COMMIT_THEN_TIMEOUT:
        assert response.status_code == 200  # the read was retried and answered: a true Allow
    else:
        assert response.status_code == 500, response.body  # never an Allow without a read


# --- the usage aggregator -------------------------------------------------------------------------


def _usage_lines(integration_ids: list[str]) -> list[tuple[str, int]]:
    """Access-log lines of two integrations: A 3 current + 2 previous, B 4 current (15 minutes apart)."""
    from chalicelib.usage import access_log as log_format

    start = int(clock.now().timestamp() * 1000)
    plan = [(integration_ids[0], "current")] * 3 + [(integration_ids[0], "previous")] * 2
    plan += [(integration_ids[1], "current")] * 4
    return [
        (
            log_format.render(
                {
                    "$context.requestTimeEpoch": start + n * 60_000,
                    "$context.status": 200,
                    "$context.authorizer.integrationId": integration_id,
                    "$context.authorizer.tokenRole": role,
                    "$context.identity.sourceIp": f"198.51.100.{n}",
                }
            ),
            0,
        )
        for n, (integration_id, role) in enumerate(plan)
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_usage_aggregator_can_fail(
    kind: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write fails the batch after every other key was written; Lambda's retry delivers it
    again: afterwards no request is missing from the counts, none is counted more than twice (at least
    once), and the last use is the newest line's. A lost answer (commit then timeout) is resent by
    botocore: the one case of a double count without a retry."""
    from chalicelib.usage import aggregator, report

    def world_calls(index: int | None) -> list[str]:
        with seeded_world():
            api = Api(client)
            ids = [create(api).integration_id, create(api).integration_id]
            lines = _usage_lines(ids)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                aggregator.apply(lines)
            except Exception as error:
                # Only a counter write fails the batch (a summary is written again by the next hour).
                assert kind != COMMIT_THEN_TIMEOUT and db.is_unavailable(error)
                faults.armed.clear()
                aggregator.apply(lines)  # the retry (Lambda's, or Firehose's for its processor)
            calls = faults.operations()
            monkeypatch.undo()
            first, second = (report.report(i, 1) for i in ids)
            counted = {
                "A current": first["totals"]["current"]["allowed"],
                "A previous": first["totals"]["previous"]["allowed"],
                "B current": second["totals"]["current"]["allowed"],
            }
            expected = {"A current": 3, "A previous": 2, "B current": 4}
            for key, n in expected.items():
                assert n <= counted[key] <= 2 * n, (key, counted)
            if index is None:
                assert counted == expected
            assert first["lastUsed"]["ip"] == "198.51.100.4" and first["lastUsed"]["token"] == "previous"
            assert second["lastUsed"]["ip"] == "198.51.100.8"
            # The addresses seen: best effort (a failed write never fails the batch), never a wrong one.
            seen = {i: {a["ip"] for a in report.report(i, 1)["addresses"]} for i in ids}
            expected_seen = {
                ids[0]: {f"198.51.100.{n}" for n in range(5)},
                ids[1]: {f"198.51.100.{n}" for n in range(5, 9)},
            }
            for integration_id, addresses in seen.items():
                assert addresses in (expected_seen[integration_id], set()), (integration_id, addresses)
            if index is None:
                assert seen == expected_seen
            return calls

    calls = world_calls(None)
    # 2 integrations' counters, their 3 summaries (new hour), their addresses of the day
    assert calls == ["dynamodb.UpdateItem"] * 7
    for index in range(len(calls)):
        world_calls(index)


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_usage_notices_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cleanup's token.unused and integration.idle, each call faulted: afterwards (the next run)
    each notice is recorded exactly once, and the rotation it concerns is untouched."""
    from chalicelib.usage import aggregator

    start = frozen_clock.current

    def world_calls(index: int | None) -> list[str]:
        frozen_clock.current = start
        with seeded_world():
            api = Api(client)
            idle, _ = create(api)
            aggregator.apply(_usage_lines([idle, idle])[:1])  # one request, then nothing
            frozen_clock.advance(days=30)
            rotating, _ = create(api)
            rotate(api, rotating, "later")
            frozen_clock.advance(hours=25)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                _run_cleanup()
            except Exception as error:
                assert db.is_unavailable(error)  # an unreadable index fails the run; the next reads it
            calls = faults.operations()
            faults.armed.clear()
            _run_cleanup()
            monkeypatch.undo()
            assert _recorded(idle, "integration.idle") == 1, "an idle notice was lost or repeated"
            assert _recorded(rotating, "token.unused") == 1, "an unused notice was lost or repeated"
            assert IntegrationModel.get(rotating).previous_token_hash is not None  # still in its overlap
            assert_consistent()
            return calls

    calls = world_calls(None)
    assert "dynamodb.TransactWriteItems" in calls
    for index in range(len(calls)):
        world_calls(index)
