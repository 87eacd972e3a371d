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
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    # TTL is a table setting PynamoDB does not manage; the botocore client it already holds does.
    client = TokenModel._get_connection().connection.client
    for ttl_model in TTL_MODELS:
        client.update_time_to_live(
            TableName=ttl_model.Meta.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
