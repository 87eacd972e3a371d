"""The transactional outbox: every audit event, as written, published to EventBridge.

Every change writes its audit event inside its own transaction (trail.recorded_change), so the events
table is the outbox: its DynamoDB Stream (new images) feeds `publish_audit_events` (app.py), which
calls PutEvents in batches of at most 10 entries, in stream order. Any event type is published, with
no list to keep: `source` "private-integrations", `detail-type` the event type, `detail` the event
(its `id` is the idempotency key: EventBridge's PutEvents has none, so delivery is at least once and
consumers drop an `id` they have seen).

Partial failures (ReportBatchItemFailures): an entry EventBridge refuses is sent again alone, at once,
up to IMMEDIATE_RETRIES times; if it still fails, it and every record after it are reported, none of
them is sent, and Lambda retries the batch from that record (the records before it are done). The
records after a refused one inside the same PutEvents call did reach EventBridge: the container
remembers the ids it published (RECENT_IDS of them), so the retry, which Lambda usually gives the same
warm container, skips them. Only a retry in a fresh container (or a lost PutEvents answer) can publish
an event twice: consumers drop an `id` they have seen.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.audit import trail
from chalicelib.audit.models import EventModel
from chalicelib.core import config, emf

log = logging.getLogger("private_integrations.outbox")
SOURCE = "private-integrations"
MAX_ENTRIES = 10  # PutEvents' limit per call
# PutEvents refuses a call over 256 KB, every time: ten entries of at most this size always fit, so no
# event can block its stream batch until the retry limit. The largest event the API can produce is
# about 17 KB; a larger one is published without its details (they stay in the events feed).
MAX_DETAIL_BYTES = 24_000
IMMEDIATE_RETRIES = 2
# What must never leave the service, whatever a future event type puts in its details: a token (the
# the scanner regex in docs/secret-scanning.md) or a SHA-256 digest (a token's table key).
_SECRET = re.compile(r"pit-[0-9A-Za-z]{49}|[0-9A-Fa-f]{64}")  # 64 hex digits anywhere, any case
REDACTED = "[redacted]"
RECENT_IDS = 10_000
_published: OrderedDict[str, None] = OrderedDict()  # ids this container published, oldest first

PutEvents = Callable[[list[dict[str, Any]]], dict[str, Any]]


@functools.cache
def _events_client() -> Any:
    import boto3

    return boto3.client("events", region_name=config.settings.region)


def put_events(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """EventBridge's PutEvents (deployed); `make run` passes a sink that logs instead."""
    return dict(_events_client().put_events(Entries=entries))


def without_secrets(value: Any) -> Any:
    """`value` with any token or digest inside replaced by "[redacted]"."""
    if isinstance(value, dict):
        return {without_secrets(key): without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    if isinstance(value, str):
        return _SECRET.sub(REDACTED, value)
    return value


def detail(event: EventModel) -> dict[str, Any]:
    """What subscribers get: the event as the events feeds show it, plus the agency."""
    return without_secrets({**trail.view(event), "agencyId": event.agency_id})


def entry(event: EventModel) -> dict[str, Any]:
    shown = detail(event)
    text = json.dumps(shown)
    if len(text.encode()) > MAX_DETAIL_BYTES:
        text = json.dumps({**shown, "details": {"truncated": True}})
    return {
        "Source": SOURCE,
        "DetailType": event.type,
        "Detail": text,
        "EventBusName": config.settings.event_bus_name,
    }


def _events(records: Iterable[dict[str, Any]]) -> list[tuple[str, EventModel | None]]:
    """(sequence number, the inserted event or None) per stream record, in stream order."""
    found: list[tuple[str, EventModel | None]] = []
    for record in records:
        change = record.get("dynamodb", {})
        image = change.get("NewImage") if record.get("eventName") == "INSERT" else None
        # Events are written once and never changed; anything but an insert has nothing to publish.
        found.append((change["SequenceNumber"], EventModel.from_raw_data(image) if image else None))
    return found


def _send(entries: list[dict[str, Any]], send: PutEvents) -> list[int]:
    """Indexes (into `entries`) that EventBridge did not take, after the immediate retries."""
    waiting = list(range(len(entries)))
    for _ in range(1 + IMMEDIATE_RETRIES):
        try:
            answer = send([entries[i] for i in waiting])
        except Exception as error:
            log.warning("PutEvents failed: %s", type(error).__name__)
            return waiting  # throttled or unreachable after botocore's retries: Lambda retries
        results = answer.get("Entries", [])
        refused = [i for i, result in zip(waiting, results, strict=False) if result.get("ErrorCode")]
        refused += waiting[len(results) :]
        for i, result in zip(waiting, results, strict=False):
            if result.get("ErrorCode"):
                log.warning("EventBridge refused %s: %s", entries[i]["DetailType"], result["ErrorCode"])
        if not refused:
            return []
        waiting = refused
    return waiting


def publish(records: list[dict[str, Any]], send: PutEvents = put_events) -> list[str]:
    """Publish the events of `records` (one stream batch) -> the sequence numbers to retry, oldest
    first: empty when every event was published."""
    events = _events(records)
    for start in range(0, len(events), MAX_ENTRIES):
        window = enumerate(events[start : start + MAX_ENTRIES], start)
        chunk = [
            (index, event)
            for index, (_, event) in window
            if event is not None and event.id not in _published
        ]
        if not chunk:
            continue
        refused = _send([entry(event) for _, event in chunk], send)
        _remember(event.id for i, (_, event) in enumerate(chunk) if i not in refused)
        if refused:
            first = chunk[min(refused)][0]
            return [sequence for sequence, _ in events[first:]]
    return []


def _remember(event_ids: Iterable[str]) -> None:
    for event_id in event_ids:
        _published[event_id] = None
    while len(_published) > RECENT_IDS:
        _published.popitem(last=False)


def handle(event: dict[str, Any], send: PutEvents = put_events) -> dict[str, Any]:
    """The stream function's answer: Lambda retries from the oldest failed record only."""
    records = event.get("Records", [])
    failed = publish(records, send)
    emf.emit(
        {
            "OutboxRecords": (len(records), emf.COUNT),
            "OutboxRecordsRetried": (len(failed), emf.COUNT),
        }
    )
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
