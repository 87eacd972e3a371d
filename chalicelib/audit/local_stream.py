"""Lambda's DynamoDB event source mapping, emulated for `make run` and the tests (never deployed).

On AWS the mapping reads the events table's stream and invokes `publish_audit_events` (infra/ sets
batch size, ReportBatchItemFailures, the retry limit, bisecting and the on-failure queue). Here the
same rules drive the same handler from moto's stream:
- a batch whose handler reports `batchItemFailures` is done up to the oldest failed record and retried
  from it (the records before it are not sent again);
- a handler that raises fails the whole batch; with bisecting, each retry takes half of what failed,
  so a record that keeps failing ends up alone. A partial batch response is not bisected: Lambda
  splits the batch at the returned record and retries all the rest of it;
- after `max_retry_attempts` retries the failing records are given up: `on_failure` gets a message
  shaped like Lambda's on-failure record for stream sources (shard and sequence numbers, no data).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("private_integrations.local_stream")
Handler = Callable[[dict[str, Any]], Any]


class StreamMapping:
    def __init__(
        self,
        handler: Handler,
        *,
        client: Any,
        stream_arn: str,
        batch_size: int,
        max_retry_attempts: int,
        on_failure: Callable[[dict[str, Any]], None],
        starting_position: str = "TRIM_HORIZON",
        bisect_on_error: bool = True,
    ) -> None:
        self.handler, self.client, self.stream_arn = handler, client, stream_arn
        self.batch_size, self.max_retry_attempts = batch_size, max_retry_attempts
        self.on_failure, self.starting_position, self.bisect = on_failure, starting_position, bisect_on_error
        self._iterators: dict[str, str | None] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}
        self._limits: dict[str, int] = {}

    def _shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def _read(self, shard: str) -> list[dict[str, Any]]:
        if shard not in self._iterators:
            self._iterators[shard] = self.client.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType=self.starting_position
            )["ShardIterator"]
        buffer = self._buffers.setdefault(shard, [])
        iterator = self._iterators[shard]
        if len(buffer) < self.batch_size and iterator:
            answer = self.client.get_records(ShardIterator=iterator, Limit=self.batch_size)
            buffer.extend(answer.get("Records", []))
            self._iterators[shard] = answer.get("NextShardIterator")
        return buffer

    def poll(self) -> int:
        """One invocation per shard with records waiting -> how many records were invoked with."""
        invoked = 0
        for shard in self._shards():
            buffer = self._read(shard)
            batch = buffer[: min(self.batch_size, self._limits.get(shard, self.batch_size))]
            if batch:
                invoked += len(batch)
                self._invoke(shard, batch)
        return invoked

    def drain(self, max_polls: int = 100) -> None:
        """Poll until nothing is waiting (tests: every record handled, retried or given up)."""
        for _ in range(max_polls):
            if not self.poll():
                return

    def _invoke(self, shard: str, batch: list[dict[str, Any]]) -> None:
        buffer = self._buffers[shard]
        try:
            answer = self.handler({"Records": batch}) or {}
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
            sequences = [record["dynamodb"]["SequenceNumber"] for record in batch]
            positions = [i for i, sequence in enumerate(sequences) if sequence in failed]
            first_failed = min(positions) if positions else None
        except Exception:
            log.exception("the stream function failed")
            first_failed, raised = 0, True
        else:
            raised = False
        if first_failed is None:
            del buffer[: len(batch)]
            self._attempts[shard] = 0
            self._limits.pop(shard, None)
            return
        del buffer[:first_failed]  # done: checkpointed before the oldest failed record
        remaining = batch[first_failed:]
        self._attempts[shard] = self._attempts.get(shard, 0) + 1
        if self._attempts[shard] > self.max_retry_attempts:
            del buffer[: len(remaining)]
            self._attempts[shard] = 0
            self._limits.pop(shard, None)
            self.on_failure(self._failure_record(shard, remaining))
        elif self.bisect and raised and len(remaining) > 1:
            self._limits[shard] = (len(remaining) + 1) // 2  # isolate the record that keeps failing

    def _failure_record(self, shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        def arrival(record: dict[str, Any]) -> str | None:
            moment = record["dynamodb"].get("ApproximateCreationDateTime")
            return moment.astimezone(UTC).isoformat() if isinstance(moment, datetime) else moment

        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": "publish_audit_events",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_retry_attempts + 1,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(records[0]),
                "approximateArrivalOfLastRecord": arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
