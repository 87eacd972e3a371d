"""Every table of the service (infra/ derives the deployed tables from these; local/tables.py creates them
locally and in tests).

Each capability keeps its own models: tokens/models.py, directory/models.py, integrations/models.py,
audit/models.py, v2/models.py; their docstrings state the access patterns.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.audit.models import EventModel
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.integrations.models import IntegrationModel
from chalicelib.ratelimit.models import CounterModel
from chalicelib.tokens.models import TokenModel
from chalicelib.usage.models import UsageModel
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
    UsageModel,
)

# Tables whose items expire by DynamoDB TTL on `expiresAt` (infra/build.py gives them the same setting).
TTL_MODELS: tuple[type[Model], ...] = (TokenModel, CounterModel, UsageModel)
