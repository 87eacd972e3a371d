"""The deployed stream mapping's stand-in for `make run`: the events table's stream to the outbox."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any


class OutboxPoller(threading.Thread):
    """The deployed stream mapping's stand-in: reads the events table's stream every second and runs the
    outbox's handler on it, which logs each event it would put on EventBridge (there is none here).

    Kept off `make run`'s start: it begins a moment after the API serves and reads the stream from its
    start, passing on only the events written since `make run` started (restored ones are not
    published again), so nothing written before it began polling is missed."""

    def __init__(self, interval: float = 1.0, delay: float = 1.0) -> None:
        super().__init__(name="outbox", daemon=True)
        self.interval, self.delay = interval, delay
        self.since = datetime.now(UTC)
        self.stopped = threading.Event()
        self.log = logging.getLogger("private_integrations.outbox")

    def _publish_by_logging(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        for entry in entries:
            detail = json.loads(entry["Detail"])
            self.log.info(
                "outbox: published %s id=%s integration=%s (source %s)",
                entry["DetailType"],
                detail["id"],
                detail.get("integrationId"),
                entry["Source"],
            )
        return {"FailedEntryCount": 0, "Entries": [{"EventId": detail_id(entry)} for entry in entries]}

    def _handle(self, event: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.audit import outbox
        from chalicelib.audit.models import EventModel

        def new(record: dict[str, Any]) -> bool:
            image = record.get("dynamodb", {}).get("NewImage")
            return bool(image) and EventModel.from_raw_data(image).at >= self.since

        return outbox.handle({"Records": [r for r in event["Records"] if new(r)]}, self._publish_by_logging)

    def run(self) -> None:
        if self.stopped.wait(self.delay):
            return
        import boto3

        from chalicelib.audit.models import EventModel
        from chalicelib.core.config import settings
        from local.stream import StreamMapping

        try:
            mapping = StreamMapping(
                self._handle,
                client=boto3.client("dynamodbstreams", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"]),
                stream_arn=EventModel.describe_table()["LatestStreamArn"],
                batch_size=settings.outbox_batch_size,
                max_retry_attempts=settings.outbox_max_retry_attempts,
                on_failure=lambda record: self.log.warning("outbox: gave up %s", json.dumps(record)),
            )
        except Exception as error:
            print(f"The local outbox could not start ({type(error).__name__}: {error})", flush=True)
            return
        while True:
            try:
                mapping.drain()
            except Exception as error:  # the API keeps serving; the next poll tries again
                print(f"The local outbox could not read the stream ({type(error).__name__})", flush=True)
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def detail_id(entry: dict[str, Any]) -> str:
    return str(json.loads(entry["Detail"])["id"])
