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


def condition_failed(error: TransactWriteError) -> bool:
    """True when a condition cancelled the transaction (not throttling or a conflict in flight).

    PynamoDB sends operations grouped by kind, not in the order they were added, so callers re-read
    the item they care about instead of trusting positions in the cancellation reasons.
    """
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons)
