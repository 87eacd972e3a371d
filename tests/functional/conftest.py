"""Fixtures shared by the functional modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.support.world import FakeClock


@pytest.fixture
def client(frozen_clock: FakeClock) -> Iterator[Any]:
    """A chalice test client behind the emulated API Gateway (authorizer, gateway responses)."""
    from app import app
    from local.gateway import install_api_gateway_behaviour

    install_api_gateway_behaviour()
    with Client(app) as chalice_client:
        yield chalice_client
