"""The DynamoDB engines the tests run on: moto (in-process) and Amazon's DynamoDB Local (a JVM).

Tests marked `@pytest.mark.engines` (or modules with `pytestmark = pytest.mark.engines`) run once per
engine; tests/conftest.py parametrizes their `engine` fixture. Every other test runs on moto.

DynamoDB Local: one JVM per test session, started on first use (it takes seconds) and stopped at the
session's end. It keeps one database per access key and region, so each test world takes a new access
key and gets an empty database of its own: fresh tables (and fresh streams) without restarting the JVM.
Nothing is put in front of it: the lock that serializes moto's in-process calls (tests/support/world.py)
is skipped for requests to DynamoDB Local, which isolates concurrent requests as DynamoDB does.

Where Java or the package is missing the DynamoDB Local tests skip with the command that installs
them, except under CI=true, where they fail: CI must never pass without the real engine.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.loaders
import botocore.session
import pynamodb.connection.base
import pytest

from chalicelib import tables
from chalicelib.core import config, db
from local.dynamodb_local import DynamoDBLocal, NotInstalled

MOTO, DYNAMODB_LOCAL = "moto", "dynamodb-local"
ENGINES = (MOTO, DYNAMODB_LOCAL)

_server: DynamoDBLocal | None = None
# Request URLs that go to DynamoDB Local (no lock in front of them; see world._serialized_call).
LOCAL_ENDPOINTS: list[str] = []


# Each world makes new PynamoDB connections, each a new botocore session that would load and parse the
# service's JSON model again (~100 ms a client): the sessions share one loader (~10 ms a client).
_LOADER = botocore.loaders.create_loader()


def _session_sharing_the_loader() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _LOADER)
    return session


pynamodb.connection.base.get_session = _session_sharing_the_loader


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def dynamodb_local() -> DynamoDBLocal:
    """The session's DynamoDB Local, started on first use."""
    global _server
    if _server is None:
        try:
            _server = DynamoDBLocal()
        except NotInstalled as error:
            if in_ci():
                pytest.fail(f"CI=true and DynamoDB Local cannot run: {error}", pytrace=False)
            pytest.skip(str(error))
        atexit.register(stop_dynamodb_local)
        LOCAL_ENDPOINTS.append(_server.endpoint)
    return _server


def stop_dynamodb_local() -> None:
    global _server
    if _server is not None:
        _server.stop()
        LOCAL_ENDPOINTS.clear()
        _server = None


def _reconnect(endpoint: str | None) -> None:
    """Point every model's and the transactions' connection at `endpoint` (None: AWS, i.e. moto)."""
    for model in tables.ALL_MODELS:
        model.Meta.host = endpoint
        model._connection = None
    db._connection.cache_clear()


@contextmanager
def on_dynamodb_local() -> Iterator[str]:
    """Inside `mock_aws()`: DynamoDB (and its streams) go to DynamoDB Local, in an empty database of
    this world's own (a new access key); every other service stays on moto. Yields the endpoint."""
    endpoint = dynamodb_local().endpoint
    names = ("AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
    saved = {name: os.environ.get(name) for name in names}
    saved_settings = config.settings
    os.environ["AWS_ACCESS_KEY_ID"] = f"world{uuid.uuid4().hex[:16]}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
    config.settings = config.settings._replace(dynamodb_endpoint=endpoint)
    _reconnect(endpoint)
    try:
        yield endpoint
    finally:
        _drop_tables()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.settings = saved_settings
        _reconnect(saved_settings.dynamodb_endpoint)


def stop_ttl_deletion() -> None:
    """DynamoDB Local deletes an item within about a second once its TTL attribute is past its own
    (wall) clock; DynamoDB takes up to days. The test worlds run on a controllable clock set to another
    time, so their tokens' `expiresAt` may be long past on the wall clock: TTL is switched off in them
    and expiry is what the service's own checks do on the controllable clock, as it must be on DynamoDB
    (whose TTL deletes late). tests/functional/test_tables.py checks TTL is on at creation, and
    test_expiry.py's TTL test what a deletion by TTL changes (nothing a user sees)."""
    from chalicelib.tokens.models import TokenModel

    TokenModel._get_connection().connection.client.update_time_to_live(
        TableName=TokenModel.Meta.table_name,
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"},
    )


def _drop_tables() -> None:
    """Free the world's database in the JVM (memory stays bounded over a long session)."""
    for model in tables.ALL_MODELS:
        try:
            model.delete_table()
        except Exception:  # best effort: a table the test never created, a JVM gone
            continue
