"""Creating the service's tables on moto or DynamoDB Local (local runs and tests; deployed tables come
from infra/)."""

from __future__ import annotations

from chalicelib.tables import ALL_MODELS, TTL_MODELS
from chalicelib.tokens.models import TokenModel


def create_tables() -> None:
    """Create any missing table (local runs and tests; deployed tables come from infra/)."""
    for model in ALL_MODELS:
        if not model.exists():
            # PynamoDB's create_table also enables TTL on the model's TTLAttribute (the tokens'
            # `expiresAt`). Enabling it a second time is refused by DynamoDB ("TimeToLive is already
            # enabled"; moto accepts it): tests/functional/test_tables.py.
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    # A table whose model has no TTLAttribute (the rate-limit counters keep `expiresAt` a plain number)
    # gets TTL here, only where it is not on yet: DynamoDB refuses enabling it twice.
    client = TokenModel._get_connection().connection.client
    for ttl_model in TTL_MODELS:
        name = ttl_model.Meta.table_name
        status = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"]
        if status in ("DISABLED", "DISABLING"):
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
            )
