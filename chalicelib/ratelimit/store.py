"""The counter's two calls: reserve a lease of budget (one conditional UpdateItem), read what is used."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.ratelimit.models import CounterModel


def _condition_failed(error: UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def reserve(key: str, amount: int, limit: int, expires_at: int) -> int | None:
    """Adds `amount` to the counter unless that would pass `limit`; returns the new count, or None when
    it would (nothing written). One write."""
    if amount > limit:  # the condition alone would let a first reservation of a window pass the limit
        return None
    counter = CounterModel(key)
    try:
        counter.update(
            actions=[CounterModel.reserved.add(amount), CounterModel.expires_at.set(expires_at)],
            condition=CounterModel.reserved.does_not_exist() | (CounterModel.reserved <= limit - amount),
        )
    except UpdateError as error:
        if _condition_failed(error):
            return None
        raise
    return int(counter.reserved)


def used(key: str) -> int:
    """The counter's value now (consistent): what is left for a smaller lease."""
    try:
        return int(CounterModel.get(key, consistent_read=True, attributes_to_get=["count"]).reserved)
    except CounterModel.DoesNotExist:
        return 0


def used_many(keys: list[str]) -> dict[str, int]:
    """Counters by key (BatchGetItem); a key never counted is 0."""
    found = {key: 0 for key in keys}
    if keys:
        for item in CounterModel.batch_get(keys, attributes_to_get=["key", "count"]):
            found[item.key] = int(item.reserved)
    return found
