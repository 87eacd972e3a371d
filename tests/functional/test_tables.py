"""Creating the tables (`make run`, the tests, bench) on each engine: every table with its indexes, the
tokens' TTL on `expiresAt`, the events' stream; creating them again changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib import tables
from chalicelib.audit.models import EventModel
from chalicelib.tokens.models import TokenModel
from local.tables import create_tables
from tests.support import engines

pytestmark = pytest.mark.engines


@pytest.fixture
def empty_database(engine: str) -> Iterator[None]:
    with mock_aws():
        if engine == engines.DYNAMODB_LOCAL:
            with engines.on_dynamodb_local():
                yield
        else:
            yield


def test_tables_are_created_with_ttl_and_stream_and_again_without_error(empty_database: None) -> None:
    create_tables()
    create_tables()  # a second start (make run restarting, a bench) finds them and changes nothing

    client = boto3.client("dynamodb", region_name="us-east-1")
    assert set(client.list_tables()["TableNames"]) == {model.Meta.table_name for model in tables.ALL_MODELS}
    ttl = client.describe_time_to_live(TableName=TokenModel.Meta.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")
    stream = client.describe_table(TableName=EventModel.Meta.table_name)["Table"]["StreamSpecification"]
    assert stream == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    for model in tables.ALL_MODELS:
        described = client.describe_table(TableName=model.Meta.table_name)["Table"]
        assert described["TableStatus"] == "ACTIVE"
        expected = {index.Meta.index_name for index in model._indexes.values()}
        found = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
        found |= {i["IndexName"] for i in described.get("LocalSecondaryIndexes", [])}
        assert found == expected, model.__name__
