"""Transactions across tables that are safe to retry, and what a database failure means.

Every multi-item change is one TransactWriteItems. Three things can go wrong, and each has one answer:

- a condition failed (someone changed the item since we read it): `LostRace`, the caller decides
  (409 for one-winner actions, re-read and retry for security actions);
- the database throttled us or could not be reached, after botocore's own retries: `Unavailable`
  (503 with Retry-After), never a conflict;
- the commit landed but its answer was lost (a timeout), and botocore's resend then failed its
  conditions against our own write. DynamoDB makes a resend with the same `ClientRequestToken`
  idempotent for 10 minutes; where that is not enough (an emulator, a resend after 10 minutes) the
  caller's `landed` check (did the item only our transaction writes appear?) turns it into success.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core import config

# Error codes that mean "too busy or unreachable, try again later", not "your request is wrong".
_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
# Cancellation reasons of a transaction that lost to another writer.
_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_BUSY_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


class LostRace(Exception):
    """A condition of the transaction failed: another request changed what we read. Nothing was written."""


class Unavailable(Exception):
    """The database was too busy or unreachable (after retries). `outcome_known` is False when a write
    may or may not have landed (its answer was lost and checking failed too)."""

    def __init__(self, message: str, *, outcome_known: bool = True) -> None:
        super().__init__(message)
        self.outcome_known = outcome_known


@functools.cache
def _connection() -> Connection:
    return Connection(region=config.settings.region, host=config.settings.dynamodb_endpoint)


def _reason_codes(error: TransactWriteError) -> set[str]:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return {reason.code for reason in reasons if reason is not None and reason.code}


def lost_race(error: TransactWriteError) -> bool:
    """True when a condition (or a concurrent transaction on the same item) cancelled the transaction.

    PynamoDB sends operations grouped by kind, not in the order they were added, so callers re-read
    the item they care about instead of trusting positions in the cancellation reasons.
    """
    codes = _reason_codes(error)
    return bool(codes & _RACE_REASONS) and not codes & _BUSY_REASONS


def is_unavailable(error: BaseException) -> bool:
    """A throttled, timed-out or unreachable database (as PynamoDB or botocore raise it)."""
    if isinstance(error, Unavailable):
        return True
    cause: BaseException | None = error
    if isinstance(error, PynamoDBException):
        if isinstance(error, TransactWriteError) and _reason_codes(error) & _BUSY_REASONS:
            return True
        cause = error.cause
    if isinstance(cause, BotoCoreError):
        return True  # connection refused, read timeout, endpoint unreachable
    if isinstance(cause, ClientError):
        return cause.response.get("Error", {}).get("Code") in _UNAVAILABLE_CODES
    return False


@contextmanager
def idempotent_transaction(landed: Callable[[], bool]) -> Iterator[TransactWrite]:
    """One idempotent TransactWriteItems; the caller adds operations inside the `with` block.

    `landed` tells, by a consistent read, whether this transaction's own write is in the table (e.g. the
    audit event it saves, whose key nobody else writes). Raises LostRace or Unavailable; returns
    normally when the transaction committed, also when only the check could tell.
    """
    request_token = uuid.uuid4().hex
    try:
        with TransactWrite(connection=_connection(), client_request_token=request_token) as tx:
            yield tx
    except TransactWriteError as error:
        if _landed(landed):
            return  # committed; the answer of the first attempt was lost
        if lost_race(error):
            raise LostRace(str(error)) from None
        if is_unavailable(error):
            raise Unavailable("The database is busy or unreachable.") from error
        raise


def _landed(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception as error:
        if is_unavailable(error):
            raise Unavailable(
                "The database is busy or unreachable; the change may or may not have been saved.",
                outcome_known=False,
            ) from error
        raise
