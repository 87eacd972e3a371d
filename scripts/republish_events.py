"""Republish what the outbox gave up on (Runbook: `AlarmOutboxFailuresQueued`), once the cause is fixed.

Each message of `pi-<stage>-outbox-failures` is Lambda's on-failure record for a stream batch: its shard
and first and last sequence numbers, no data. This reads those records from the events table's stream
again (DynamoDB keeps them 24 hours), publishes their events as the outbox does (same source,
detail-type and detail, so consumers that drop seen ids are safe), and deletes the message once every
event of it is published. Run it with the stage's settings, e.g.

    PI_STAGE=prod AWS_REGION=us-east-1 python scripts/republish_events.py --queue-url <OutboxFailureQueueUrl>
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def batch_records(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records from `startSequenceNumber` to `endSequenceNumber` of one shard."""
    last = int(info["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator)
        for record in answer.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return found
            found.append(record)
        if not answer.get("Records"):
            return found  # the end of what the shard holds
        iterator = answer.get("NextShardIterator")
    return found


def republish_queue(sqs: Any, queue_url: str, streams: Any, send: Any) -> tuple[int, int]:
    """(stream records republished, messages left because some event still failed)."""
    from chalicelib.audit import outbox

    published = left = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return published, left
        for message in messages:
            records = batch_records(streams, json.loads(message["Body"])["DDBStreamBatchInfo"])
            failed = outbox.publish(records, send)
            if failed:
                left += 1  # stays in the queue (visible again after its timeout): run again later
                continue
            published += len(records)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if left:
            return published, left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queue-url", required=True, help="the OutboxFailureQueueUrl output of the stack")
    args = parser.parse_args(argv)

    import boto3

    from chalicelib.audit import outbox
    from chalicelib.core.config import settings

    sqs = boto3.client("sqs", region_name=settings.region)
    streams = boto3.client("dynamodbstreams", region_name=settings.region)
    published, left = republish_queue(sqs, args.queue_url, streams, outbox.put_events)
    print(json.dumps({"recordsRepublished": published, "messagesLeft": left}))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
