"""Every table of the service, and creating them (local runs and tests; deployed tables come from infra/).

Each capability keeps its own models: tokens/model.py, directory/models.py, integrations/models.py,
audit/model.py, v2/models.py; their docstrings state the access patterns.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.audit.model import EventModel
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.integrations.models import IntegrationModel
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
)


def create_tables() -> None:
    """Create any missing table (local runs and tests; deployed tables come from infra/)."""
    for model in ALL_MODELS:
        if not model.exists():
            # PynamoDB's create_table also enables TTL on the model's TTLAttribute (the tokens'
            # `expiresAt`). Enabling it a second time is refused by DynamoDB ("TimeToLive is already
            # enabled"; moto accepts it): tests/functional/test_tables.py.
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
