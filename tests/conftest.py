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

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from chalicelib.core import clock
from tests.support.world import Api, FakeClock, seeded_world


@pytest.fixture
def frozen_clock() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC))
    clock.set_source(fake)
    yield fake
    clock.reset()


@pytest.fixture
def aws(frozen_clock: FakeClock) -> Iterator[None]:
    with seeded_world():
        yield


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app
    from chalicelib.http.local_gateway import install_api_gateway_behaviour

    install_api_gateway_behaviour()
    with Client(app) as client:
        yield Api(client)
