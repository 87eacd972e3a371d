"""Every table of the service, and creating them (local runs and tests; deployed tables come from infra/).

Each capability keeps its own models: tokens/model.py, directory/models.py, integrations/models.py,
audit/model.py, v2/models.py; their docstrings state the access patterns.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.audit.model import EventModel
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.integrations.models import IntegrationModel
from chalicelib.ratelimit.model import CounterModel
from chalicelib.tokens.model import TokenModel
from chalicelib.v2.models import ContactKeyModel, ContactModel

ALL_MODELS: tuple[type[Model], ...] = (
    AgencyModel,
    LocationModel,
    UserModel,
    IntegrationModel,
    TokenModel,
    EventModel,
    ContactModel,
    ContactKeyModel,
    CounterModel,
)

# Tables whose items expire by DynamoDB TTL on `expiresAt` (infra/build.py gives them the same setting).
TTL_MODELS: tuple[type[Model], ...] = (TokenModel, CounterModel)


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
