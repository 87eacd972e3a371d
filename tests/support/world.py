"""The test world shared by every kind of test: the seeded directory, a controllable clock, a fresh
moto account (DynamoDB on moto or on DynamoDB Local: tests/support/engines.py), and a client that sends
the Version header and a session per user.

Imported after tests/conftest.py has set the environment (settings are read once at import).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from chalice.test import Client
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from chalicelib import tables
from chalicelib.core import clock
from chalicelib.directory import sessions
from local import seed
from local.tables import create_tables
from tests.support import engines

# moto's in-process DynamoDB is not isolated between threads (a failed transaction restores a copy of
# the whole table, wiping what other threads committed meanwhile); DynamoDB is. The cleanup drains its
# shards in threads, so every mocked call here goes through moto one at a time, as `make run` does.
# Requests to DynamoDB Local pass with no lock: it isolates concurrent requests itself.
_MOTO_LOCK = threading.RLock()
_unserialized_call = BotocoreStubber.__call__


def _serialized_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
    if engines.LOCAL_ENDPOINTS and str(request.url).startswith(tuple(engines.LOCAL_ENDPOINTS)):
        return None  # not moto's: botocore sends it to DynamoDB Local
    with _MOTO_LOCK:
        return _unserialized_call(self, event_name, request, **kwargs)


BotocoreStubber.__call__ = _serialized_call  # type: ignore[method-assign]

SEED = {
    "agencies": [
        {"id": "ag1", "name": "Agency One", "labs": {"privateIntegrations": True}},
        {"id": "ag2", "name": "Agency Two", "labs": {"privateIntegrations": True}},
        {"id": "ag3", "name": "Agency Labs Off", "labs": {"privateIntegrations": False}},
    ],
    "locations": [
        {"id": "loc1", "agencyId": "ag1", "name": "Loc One"},
        {"id": "loc2", "agencyId": "ag1", "name": "Loc Two"},
        {"id": "loc9", "agencyId": "ag2", "name": "Other agency's location"},
        {"id": "loc3", "agencyId": "ag3", "name": "Labs-off location"},
    ],
    "users": [
        {"id": "admin", "agencyId": "ag1", "type": "agency", "role": "admin"},
        {
            "id": "staff_flags",
            "agencyId": "ag1",
            "type": "agency",
            "role": "user",
            "permissions": {"privateIntegrations": {"agency": True, "subAccount": True}},
        },
        {"id": "staff", "agencyId": "ag1", "type": "agency", "role": "user"},
        {
            "id": "account_flag",
            "agencyId": "ag1",
            "type": "account",
            "role": "user",
            "locationIds": ["loc1"],
            "permissions": {"privateIntegrations": {"subAccount": True}},
        },
        {"id": "account", "agencyId": "ag1", "type": "account", "role": "admin", "locationIds": ["loc1"]},
        {"id": "admin2", "agencyId": "ag2", "type": "agency", "role": "admin"},
        {"id": "admin3", "agencyId": "ag3", "type": "agency", "role": "admin"},
    ],
}
VERSION = {"Version": "2021-07-28"}


FakeClock = clock.ManualClock


@contextmanager
def seeded_world(engine: str = engines.MOTO) -> Iterator[None]:
    """A fresh moto account with the tables created and SEED loaded (and a rate limiter that remembers
    no lease, limit or location of an earlier world, and an aggregator that knows no address set); with
    `engine` "dynamodb-local" the tables are in an empty database of DynamoDB Local (the other services
    stay on moto)."""
    from chalicelib.integrations import rate_limits
    from chalicelib.usage import aggregator

    rate_limits.reset()
    aggregator.SEEN.forget()  # the addresses a container wrote: those of an earlier world's table
    with mock_aws(), ExitStack() as stack:
        if engine == engines.DYNAMODB_LOCAL:
            stack.enter_context(engines.on_dynamodb_local())
        create_tables()
        if engine == engines.DYNAMODB_LOCAL:
            engines.stop_ttl_deletion()
        seed_path = Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"seed-{os.getpid()}.json"
        seed_path.write_text(json.dumps(SEED))
        seed.load_seed(seed_path)
        yield


class Api:
    """chalice.test.Client with the Version header and a session per user."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        user: str | None = "admin",
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Any:
        all_headers = dict(VERSION)
        if user is not None:
            all_headers["Authorization"] = f"Bearer {sessions.mint(user)}"
        if body is not None or raw is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        return getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def readable(blob: bytes) -> Any:
    """`json.dumps`'s `default` for scanned items: the only binary attribute is a token's stored policy,
    shown decoded so that a search of the dump sees its text."""
    from chalicelib.tokens import stored_policy

    return stored_policy.decode(blob)


def scan_all_items() -> list[dict[str, Any]]:
    """Every item of every table, raw: for asserting what is (not) stored."""
    import boto3

    ddb = boto3.client("dynamodb", region_name="us-east-1")  # AWS_ENDPOINT_URL_DYNAMODB: the engine
    items: list[dict[str, Any]] = []
    for model in tables.ALL_MODELS:
        items.extend(ddb.scan(TableName=model.Meta.table_name)["Items"])
    return items


def sign_in_again_after_revoke_all(fake: FakeClock) -> None:
    """Revoke-all ends every session issued up to the clock skew ahead of its time: the admin's next
    session (each request here mints one) must be issued after that."""
    from chalicelib.core import config

    fake.advance(seconds=config.settings.session_clock_skew_seconds + 1)
