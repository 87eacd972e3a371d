"""The outbox end to end: the events table's stream (moto's or DynamoDB Local's) -> the app's stream
function (through the emulated event source mapping) -> moto's EventBridge -> a rule -> an SQS queue
the test reads. Given-up batches go to a second SQS queue, as the deployed on-failure destination does."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from chalicelib.audit import outbox
from chalicelib.audit.models import EventModel
from chalicelib.core import config
from local.stream import StreamMapping

REGION = "us-east-1"


def streams_client() -> Any:
    # DynamoDB Local serves its streams on its own endpoint (tests/support/engines.py sets it). Else
    # moto: botocore's default endpoint for DynamoDB Streams is account-based, which moto does not route.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
    return boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=endpoint or f"https://streams.dynamodb.{REGION}.amazonaws.com",
    )


def events_stream_arn() -> str:
    client = boto3.client("dynamodb", region_name=REGION)
    return str(client.describe_table(TableName=EventModel.Meta.table_name)["Table"]["LatestStreamArn"])


class Bus:
    def __init__(self, handler: Any = None, send: outbox.PutEvents | None = None) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        self.queue = self._queue("published")
        self.dead_letters = self._queue("outbox-failures")
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        events.put_rule(Name="all-private-integrations", EventPattern=json.dumps({"source": [outbox.SOURCE]}))
        events.put_targets(
            Rule="all-private-integrations", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
        )
        self.handler = handler or (lambda event: outbox.handle(event, send or outbox.put_events))
        self.mapping = StreamMapping(
            self.handler,
            client=streams_client(),
            stream_arn=events_stream_arn(),
            batch_size=config.settings.outbox_batch_size,
            max_retry_attempts=config.settings.outbox_max_retry_attempts,
            on_failure=lambda record: self.sqs.send_message(
                QueueUrl=self.dead_letters, MessageBody=json.dumps(record)
            ),
        )

    def _queue(self, name: str) -> str:
        return str(self.sqs.create_queue(QueueName=name)["QueueUrl"])

    def _take(self, queue: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                found.append(json.loads(message["Body"]))

    def published(self) -> list[dict[str, Any]]:
        """Run the stream mapping until nothing waits, then what reached EventBridge since last asked."""
        self.mapping.drain()
        return self._take(self.queue)

    def dead_lettered(self) -> list[dict[str, Any]]:
        return self._take(self.dead_letters)
