"""The service's vocabulary, typed: who owns an integration, and the states of a token."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class OwnerType(StrEnum):
    """An integration belongs to an agency or to one of its sub-accounts (a location in the API)."""

    AGENCY = "agency"
    LOCATION = "location"


class TokenState(StrEnum):
    ACTIVE = "active"  # the integration's current token
    ROTATING = "rotating"  # the previous token during a rotation's overlap, until its expiresAt
    # Never authorizes. Kept only where a later request must still know it (a leaked token: GitHub
    # retries its reports), with its RevocationReason.
    REVOKED = "revoked"


class RevocationReason(StrEnum):
    LEAKED = "leaked"  # reported public by GitHub's secret scanning (scanning/reports.py)


class UserType(StrEnum):
    AGENCY = "agency"  # agency staff
    ACCOUNT = "account"  # sub-account (location) staff, with their locationIds


class UserRole(StrEnum):
    ADMIN = "admin"
    USER = "user"


class Owner(NamedTuple):
    """Who an integration belongs to: the agency itself or one of its locations (sub-accounts).

    A NamedTuple, not a dataclass: this module is on the authorizer's cold-start import path."""

    type: OwnerType
    id: str
    agency_id: str

    @property
    def key(self) -> str:
        return f"{self.type}#{self.id}"
