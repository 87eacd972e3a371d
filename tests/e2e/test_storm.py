"""A storm of concurrent lifecycle actions against the real `make run` server (chalice local on moto in
server mode, and on DynamoDB Local with nothing in front of it), then the invariants checked through
the API (which issued token still works) and through the tables; concurrent creates racing for the last
of an owner's 100 slots; and duplicate deletes racing each other."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.tokens import token_text
from tests.support import engines
from tests.support.dev_server import DevServer

pytestmark = pytest.mark.engines

SEED = {
    "agencies": [{"id": "ag-storm", "name": "Storm", "labs": {"privateIntegrations": True}}],
    "locations": [
        {"id": "loc-storm", "agencyId": "ag-storm", "name": "Storm"},
        {"id": "loc-full", "agencyId": "ag-storm", "name": "Nearly full"},
    ],
    "users": [{"id": "storm-admin", "agencyId": "ag-storm", "type": "agency", "role": "admin"}],
}
ROUNDS, CONCURRENT, INTEGRATIONS = 8, 30, 4
ACTIONS = ("rotate later", "rotate now", "cancel", "expire now")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[DevServer]:
    seed = Path(tmp_path_factory.mktemp("storm")) / "seed.json"
    seed.write_text(json.dumps(SEED))
    env = {"PI_SEED_FILE": str(seed), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    if engine == engines.DYNAMODB_LOCAL:
        # `make run DB=dynamodb-local` on the session's JVM, in a database of its own (its access key).
        env |= {
            "PI_DB": engine,
            "PI_DYNAMODB_LOCAL_ENDPOINT": engines.dynamodb_local().endpoint,
            "AWS_ACCESS_KEY_ID": f"storm{uuid.uuid4().hex[:12]}",
        }
    dev = DevServer(env)
    dev.access_key = env["AWS_ACCESS_KEY_ID"]  # type: ignore[attr-defined]
    try:
        yield dev
    finally:
        returncode, output = dev.stop()
        assert returncode == 0, output[-2000:]


def _tables(server: DevServer) -> Any:
    endpoint = next(line for line in server.banner if line.strip().startswith("DynamoDB (")).split(": ", 1)[1]
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint.strip(),
        region_name="us-east-1",
        aws_access_key_id=server.access_key,  # type: ignore[attr-defined]
        aws_secret_access_key="local",
    )


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    return client.scan(TableName=f"pi-local-{table}", ConsistentRead=True)["Items"]


def _act(server: DevServer, session: str, action: str, integration_id: str) -> tuple[int, Any]:
    path = f"/private-integrations/{integration_id}"
    if action == "delete":
        return server.call("DELETE", path, session)
    if action.startswith("rotate"):
        return server.call("POST", f"{path}/rotate", session, {"expire": action.split()[1]})
    suffix = "cancel" if action == "cancel" else "expire-now"
    return server.call("POST", f"{path}/rotation/{suffix}", session, {})


def _works(server: DevServer, token: str) -> bool:
    status, _ = server.call("GET", "/locations/loc-storm", token)
    assert status in (200, 401), status
    return status == 200


def test_a_storm_of_lifecycle_actions_keeps_revocation_absolute(server: DevServer) -> None:
    session = server.printed_session()
    issued: dict[str, list[str]] = {}
    for _ in range(INTEGRATIONS):
        status, body = server.call(
            "POST",
            "/locations/loc-storm/private-integrations",
            session,
            {"name": "storm", "scopes": ["locations.readonly"]},
        )
        assert status == 201, body
        issued[body["privateIntegration"]["id"]] = [body["token"]]
    rng = random.Random(20261128)
    ids = sorted(issued)
    deleted = set(ids[:2])
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        for round_number in range(ROUNDS):
            plan = [(rng.choice(ACTIONS), rng.choice(ids)) for _ in range(CONCURRENT)]
            if round_number == ROUNDS - 1:
                plan[:2] = [("delete", integration_id) for integration_id in sorted(deleted)]
            results = list(pool.map(lambda step: (step, _act(server, session, *step)), plan))
            for (action, integration_id), (status, body) in results:
                assert status in (200, 204, 404, 409), (action, status, body)
                if action in ("delete", "rotate now", "expire now") and integration_id not in deleted:
                    # Security actions never lose a race; expire-now may find nothing pending.
                    nothing_pending = action == "expire now" and "No rotation is pending" in str(body)
                    assert status in (200, 204) or nothing_pending, (action, status, body)
                if status == 200 and "token" in body:
                    issued[integration_id].append(body["token"])

    # Through the API: a deleted integration's tokens are all dead; a live one has its current token
    # working, at most one more (rotating out), and nothing else.
    for integration_id, plaintexts in issued.items():
        working = [token for token in plaintexts if _works(server, token)]
        status, body = server.call("GET", f"/private-integrations/{integration_id}", session)
        if integration_id in deleted:
            assert status == 404 and working == [], integration_id
            continue
        view = body["privateIntegration"]
        hints = {view["token"]["hint"]}
        if view["rotation"]:
            hints.add(view["rotation"]["previousTokenHint"])
        assert 1 <= len(working) <= 2
        assert {token_text.hint(token) for token in working} == hints

    # Through the tables: no orphan, no third token, the counter exact.
    client = _tables(server)
    integrations = _scan(client, "integrations")
    token_items = _scan(client, "tokens")
    by_integration: dict[str, int] = {}
    for item in token_items:
        owner = item["integrationId"]["S"]
        by_integration[owner] = by_integration.get(owner, 0) + 1
    live_ids = {item["id"]["S"] for item in integrations}
    assert live_ids == set(ids) - deleted
    assert set(by_integration) <= live_ids, "token items of a deleted integration remain"
    assert all(count <= 2 for count in by_integration.values())
    location = client.get_item(
        TableName="pi-local-locations", Key={"id": {"S": "loc-storm"}}, ConsistentRead=True
    )["Item"]
    assert int(location["integrationCount"]["N"]) == len(live_ids)


def test_concurrent_creates_race_for_the_last_slots(server: DevServer) -> None:
    session = server.printed_session()
    body = {"name": "filler", "scopes": ["locations.readonly"]}
    for _ in range(98):
        assert server.call("POST", "/locations/loc-full/private-integrations", session, body)[0] == 201
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(
                lambda _: server.call("POST", "/locations/loc-full/private-integrations", session, body),
                range(10),
            )
        )
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 201] + [409] * 8, statuses
    client = _tables(server)
    location = client.get_item(
        TableName="pi-local-locations", Key={"id": {"S": "loc-full"}}, ConsistentRead=True
    )["Item"]
    assert int(location["integrationCount"]["N"]) == 100
    owned = [i for i in _scan(client, "integrations") if i["ownerId"]["S"] == "loc-full"]
    assert len(owned) == 100


def test_duplicate_deletes_race_and_exactly_one_wins(server: DevServer) -> None:
    session = server.printed_session()
    body = {"name": "doomed", "scopes": ["locations.readonly"]}
    path = "/locations/loc-storm/private-integrations"
    created = [server.call("POST", path, session, body) for _ in range(4)]
    ids = [answer["privateIntegration"]["id"] for status, answer in created if status == 201]
    tokens_of = {answer["privateIntegration"]["id"]: answer["token"] for _, answer in created}
    client = _tables(server)
    before = int(
        client.get_item(TableName="pi-local-locations", Key={"id": {"S": "loc-storm"}}, ConsistentRead=True)[
            "Item"
        ]["integrationCount"]["N"]
    )
    plan = [integration_id for integration_id in ids for _ in range(10)]
    random.Random(23).shuffle(plan)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(
            pool.map(lambda i: (i, server.call("DELETE", f"/private-integrations/{i}", session)[0]), plan)
        )
    for integration_id in ids:
        statuses = sorted(status for i, status in results if i == integration_id)
        assert statuses[0] == 204 and statuses.count(204) == 1, statuses
        assert set(statuses[1:]) <= {404, 409}, statuses
        assert not _works(server, tokens_of[integration_id])
    location = client.get_item(
        TableName="pi-local-locations", Key={"id": {"S": "loc-storm"}}, ConsistentRead=True
    )["Item"]
    assert int(location["integrationCount"]["N"]) == before - len(ids)
    assert not {i["integrationId"]["S"] for i in _scan(client, "tokens")} & set(ids)
