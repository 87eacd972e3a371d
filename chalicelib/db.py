"""Transactions across tables, and reading why one was cancelled."""

from __future__ import annotations

import functools

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.config import settings


@functools.cache
def _connection() -> Connection:
    return Connection(region=settings.region, host=settings.dynamodb_endpoint)


def transaction() -> TransactWrite:
    return TransactWrite(connection=_connection())


def failed_conditions(error: TransactWriteError) -> list[bool]:
    """Per operation, in the order they were added: True where its condition failed."""
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [bool(reason and reason.code == "ConditionalCheckFailed") for reason in reasons]
