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

Reading follows DynamoDB Streams as it really behaves (DynamoDB Local showed what moto never did):
- the shards are listed page by page; a shard whose parent is still listed is read only after the
  parent is closed and read to its end (order per item), and a closed shard read to its end (no
  NextShardIterator) is finished and not read again; a shard no longer listed is forgotten;
- an iterator that cannot be used any more (TrimmedDataAccessException: the records it points at were
  trimmed; ExpiredIteratorException: 15 minutes old; ResourceNotFoundException: "Invalid ShardId in
  ShardIterator") is replaced by one AFTER_SEQUENCE_NUMBER of the last record read, so nothing is
  missed or read twice; when that position is itself trimmed, reading goes on from TRIM_HORIZON (the
  oldest record left: what was trimmed is gone, as for Lambda), then LATEST, and says so in the log.
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
        self._last_read: dict[str, str] = {}  # shard -> sequence number of the last record read
        self._finished: set[str] = set()  # closed shards read to their end and handled

    def _shards(self) -> list[str]:
        """The shards to read now, parents before children (DescribeStream is paged)."""
        listed: list[dict[str, Any]] = []
        start: dict[str, str] = {}
        while True:
            description = self.client.describe_stream(StreamArn=self.stream_arn, **start)["StreamDescription"]
            listed.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            start = {"ExclusiveStartShardId": last}
        ids = {shard["ShardId"] for shard in listed}
        for gone in set(self._iterators) - ids:  # trimmed away with all its records (24 hours)
            self._forget(gone)
        self._finished &= ids
        return [
            shard["ShardId"]
            for shard in listed
            if shard["ShardId"] not in self._finished
            and (shard.get("ParentShardId") not in ids or shard.get("ParentShardId") in self._finished)
        ]

    def _forget(self, shard: str) -> None:
        for state in (self._iterators, self._buffers, self._attempts, self._limits, self._last_read):
            state.pop(shard, None)

    def _iterator(self, shard: str, kind: str, after: str | None = None) -> str | None:
        position = {"SequenceNumber": after} if after else {}
        answer = self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType=kind, **position
        )
        return answer.get("ShardIterator")

    def _reposition(self, shard: str, error: str) -> None:
        """A new iterator after the last record read, else from the oldest record left, else the end."""
        last = self._last_read.get(shard)
        attempts: list[tuple[str, str | None]] = [("AFTER_SEQUENCE_NUMBER", last)] if last else []
        if not last:
            attempts.append((self.starting_position, None))
        attempts += [("TRIM_HORIZON", None), ("LATEST", None)]
        for kind, after in attempts:
            try:
                self._iterators[shard] = self._iterator(shard, kind, after)
            except self.client.exceptions.TrimmedDataAccessException:
                continue
            if kind != attempts[0][0]:
                log.warning("stream shard %s: %s; records after %s were trimmed, reading from %s",
                            shard, error, last, kind)
            return
        self._iterators[shard] = None

    def _read(self, shard: str) -> list[dict[str, Any]]:
        if shard not in self._iterators:
            self._iterators[shard] = self._iterator(shard, self.starting_position)
        buffer = self._buffers.setdefault(shard, [])
        if len(buffer) < self.batch_size and self._iterators[shard]:
            answer = self._get_records(shard)
            records = answer.get("Records", [])
            buffer.extend(records)
            if records:
                self._last_read[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            self._iterators[shard] = answer.get("NextShardIterator")
        if not buffer and self._iterators[shard] is None:
            self._finished.add(shard)  # closed and read to its end: its children come next
            self._forget(shard)
        return buffer

    def _get_records(self, shard: str) -> dict[str, Any]:
        unusable = (
            self.client.exceptions.TrimmedDataAccessException,
            self.client.exceptions.ExpiredIteratorException,
            self.client.exceptions.ResourceNotFoundException,
        )
        for attempt in range(3):
            try:
                iterator = self._iterators[shard]
                return dict(self.client.get_records(ShardIterator=iterator, Limit=self.batch_size))
            except unusable as error:
                if attempt == 2:
                    raise
                self._reposition(shard, error.response.get("Error", {}).get("Code", "unusable iterator"))
                if self._iterators[shard] is None:
                    break
        return {"Records": [], "NextShardIterator": self._iterators[shard]}

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
