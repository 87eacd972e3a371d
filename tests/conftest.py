"""Test wiring: moto in-process for DynamoDB (or DynamoDB Local, for tests marked `engines`: they
run once per engine), a controllable clock, and a seeded directory.

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
from tests.support import engines
from tests.support.world import Api, FakeClock, seeded_world


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engines: run on moto and on DynamoDB Local (the `engine` fixture)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("engines"):
        metafunc.parametrize("engine", engines.ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def engine(request: pytest.FixtureRequest) -> str:
    """The DynamoDB engine: "moto", or for tests marked `engines` each of ENGINES in turn."""
    return str(getattr(request, "param", engines.MOTO))


@pytest.fixture(scope="session", autouse=True)
def _stop_dynamodb_local() -> Iterator[None]:
    yield
    engines.stop_dynamodb_local()


@pytest.fixture
def frozen_clock() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC))
    clock.set_source(fake)
    yield fake
    clock.reset()


@pytest.fixture
def aws(frozen_clock: FakeClock, engine: str) -> Iterator[None]:
    with seeded_world(engine):
        yield


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app
    from local.gateway import install_api_gateway_behaviour

    install_api_gateway_behaviour()
    with Client(app) as client:
        yield Api(client)
