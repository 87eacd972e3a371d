"""Audit events: built here and written inside the same transaction as the change they record."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.audit.models import EventModel
from chalicelib.core import clock, db
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.paging import limit_param
from chalicelib.core.vocabulary import Owner

DEFAULT_PAGE = 50
MAX_PAGE = 100
_EVENT_ID = re.compile(r"[0-9]{21}[0-9a-f]{8}")
# Orders events written in the same millisecond by this process (and under a frozen test clock).
_sequence = itertools.count()


def new_event(
    event_type: str,
    actor_id: str,
    owner: Owner,
    details: dict[str, Any] | None = None,
    integration_id: str | None = None,
) -> EventModel:
    at = clock.now()
    event_id = f"{int(at.timestamp() * 1000):013d}{next(_sequence) % 10**8:08d}{secrets.token_hex(4)}"
    return EventModel(
        owner.key,
        _sort_key(event_id),
        id=event_id,
        type=event_type,
        at=at,
        actor_id=actor_id,
        integration_id=integration_id,
        owner_type=owner.type,
        owner_id=owner.id,
        agency_id=owner.agency_id,
        details=details or {},
    )


def is_stored(event: EventModel) -> bool:
    """Consistent read: is this very event in the table?"""
    try:
        EventModel.get(event.owner_key, event.sk, consistent_read=True)
    except EventModel.DoesNotExist:
        return False
    return True


@contextmanager
def recorded_change(event: EventModel) -> Iterator[TransactWrite]:
    """One idempotent transaction that also saves `event`, the change's record.

    The event's key is unique to this attempt, so finding it after a failed answer proves the commit
    landed (see db.idempotent_transaction). Raises db.LostRace or db.Unavailable.
    """
    with db.idempotent_transaction(lambda: is_stored(event)) as tx:
        yield tx
        tx.save(event, condition=EventModel.sk.does_not_exist())


def _sort_key(event_id: str) -> str:
    """Epoch milliseconds first, so a descending query is newest first."""
    return f"{event_id[:13]}#{event_id[13:]}"


def view(event: EventModel) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "at": clock.iso(event.at),
        "actorId": event.actor_id,
        "integrationId": event.integration_id,
        "ownerType": event.owner_type,
        "ownerId": event.owner_id,
        "details": event.details,
    }


def page_params(params: dict[str, str]) -> tuple[int, str | None]:
    """`limit` (1-100, default 50) and `cursor` (the `nextCursor` of the previous page) -> (limit, sk)."""
    limit, problems = limit_param(params, DEFAULT_PAGE, MAX_PAGE)
    cursor = params.get("cursor") or None
    if cursor is not None and not _EVENT_ID.fullmatch(cursor):
        problems.append("cursor must be the nextCursor of a previous page")
    if problems:
        raise ValidationFailed(problems)
    return limit, _sort_key(cursor) if cursor else None


def _page(results: Any, limit: int) -> dict[str, Any]:
    events = [view(event) for event in itertools.islice(results, limit + 1)]
    has_more = len(events) > limit
    events = events[:limit]
    next_cursor = events[-1]["id"] if has_more else None
    return {"events": events, "nextCursor": next_cursor}


def list_for_owner(owner: Owner, limit: int, cursor: str | None) -> dict[str, Any]:
    condition = EventModel.sk < cursor if cursor else None
    results = EventModel.query(
        owner.key, condition, scan_index_forward=False, limit=limit + 1, consistent_read=True
    )
    return _page(results, limit)


def list_for_integration(integration_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    index = EventModel.by_integration
    condition = EventModel.sk < cursor if cursor else None
    results = index.query(integration_id, condition, scan_index_forward=False, limit=limit + 1)
    return _page(results, limit)


def first_event_of(integration_id: str) -> EventModel | None:
    """Any event of an integration: tells who owned it after it was deleted."""
    return next(iter(EventModel.by_integration.query(integration_id, limit=1)), None)
