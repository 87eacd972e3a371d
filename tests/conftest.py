"""Test wiring: moto in-process for DynamoDB, a controllable clock, and a seeded directory.

Environment is set before chalicelib is imported, because settings are read once at import.
"""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PI_STAGE": "test",
        "PI_SESSION_SECRET": "test-session-secret-0123456789abcdef",
    }
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import tables as models
from chalicelib.core import clock
from chalicelib.directory import accounts as directory
from chalicelib.directory import sessions

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


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def frozen_clock() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC))
    clock.set_source(fake)
    yield fake
    clock.reset()


@contextmanager
def seeded_world() -> Iterator[None]:
    """A fresh moto account with the tables created and SEED loaded."""
    with mock_aws():
        models.create_tables()
        seed_path = Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"seed-{os.getpid()}.json"
        seed_path.write_text(json.dumps(SEED))
        directory.load_seed(seed_path)
        yield


@pytest.fixture
def aws(frozen_clock: FakeClock) -> Iterator[None]:
    with seeded_world():
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


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app
    from chalicelib.http.local_gateway import install_api_gateway_behaviour

    install_api_gateway_behaviour()
    with Client(app) as client:
        yield Api(client)


def scan_all_items() -> list[dict[str, Any]]:
    """Every item of every table, raw: for asserting what is (not) stored."""
    import boto3

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    items: list[dict[str, Any]] = []
    for model in models.ALL_MODELS:
        items.extend(ddb.scan(TableName=model.Meta.table_name)["Items"])
    return items
