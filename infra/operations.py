"""What an operator needs on the first night, merged into each stage's template by infra/build.py.

- Parameters with defaults per stage: log retention, X-Ray tracing, stage throttling, alarm thresholds.
- A log group per function (retention), and the API's JSON access log (request id, never a header).
- X-Ray active tracing on the functions and the stage when TracingEnabled (on in prod).
- Stage throttling; API Gateway's 429 is the THROTTLED gateway response (SPEC's JSON, Retry-After).
- The cleanup: reserved concurrency, and failed invocations kept in an SQS queue (on-failure).
- Alarms to an SNS topic (the operator subscribes): authorizer errors and p99 latency, DynamoDB
  throttles per table, the API's 5xx rate, cleanup errors, missing cleanup runs, failed cleanup runs,
  and the outbox's errors, iterator age and dead letters; GitHub's keys unreadable for over an hour.
- The access log through Firehose to S3, its Lambda processor the usage aggregator (access_log_delivery()).
- The outbox (outbox()): the events stream's mapping (retry limit, bisecting, partial batch failures,
  on-failure queue) and an EventBridge archive of every published event, for replays.
docs/operations.md "Runbook" says what each alarm means and what to check first.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.emf import NAMESPACE, service_name
from chalicelib.usage import access_log

LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653]
FUNCTION_IDS = ("APIHandler", "TokenAuthorizer", "ScheduledCleanup", "PublishAuditEvents", "AggregateUsage")

# The API's access log: one JSON line per request, in the format defined once in
# chalicelib/usage/access_log.py (make run's gateway writes the same lines). requestId is the X-Trace-Id.
ACCESS_LOG_FORMAT = access_log.FORMAT


def parameters(stage: str) -> dict[str, Any]:
    prod = stage == "prod"

    def number(default: float, description: str, minimum: float = 0) -> dict[str, Any]:
        return {"Type": "Number", "Default": default, "MinValue": minimum, "Description": description}

    return {
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": LOG_RETENTION_DAYS,
            "Description": "Days CloudWatch Logs keeps every function's log, and S3 the API's access log",
        },
        "TracingEnabled": {
            "Type": "String",
            "Default": "true" if prod else "false",
            "AllowedValues": ["true", "false"],
            "Description": "X-Ray active tracing on the functions and the API stage",
        },
        "ThrottlingRateLimit": number(500 if prod else 50, "Stage steady-state requests per second", 1),
        "ThrottlingBurstLimit": number(1000 if prod else 100, "Stage burst (token bucket size)", 1),
        "CleanupReservedConcurrency": number(
            1, "Concurrent cleanup runs at most (they cannot take the API's concurrency)", 1
        ),
        "AuthorizerErrorThreshold": number(
            5, "Authorizations that failed closed (database unreadable) per minute, 3 minutes of 5", 1
        ),
        "AuthorizerP99ThresholdMs": number(500, "Authorizer p99 latency (ms) over 5 minutes, 3 of 5", 1),
        "DynamoDBThrottleThreshold": number(10, "Throttled reads + writes per table per minute, 3 of 5", 1),
        "ServerErrorRateThreshold": {
            "Type": "Number",
            "Default": 0.01,
            "MinValue": 0,
            "MaxValue": 1,
            "Description": "Share of API requests answered 5xx per minute (0.01 = 1%), 3 minutes of 5",
        },
        "CleanupErrorThreshold": number(1, "Failed cleanup invocations per hour", 1),
        "OutboxIteratorAgeThresholdMs": number(
            300_000, "Age (ms) of the oldest audit event not yet published, 3 minutes of 5", 1000
        ),
        "OutboxErrorThreshold": number(1, "Failed outbox invocations per 5 minutes, 3 of 5", 1),
        "UsageReservedConcurrency": number(
            100, "Concurrent usage aggregators at most (never the API's or the authorizer's concurrency)", 1
        ),
        "UsageErrorThreshold": number(5, "Failed usage-aggregator invocations per 5 minutes, 3 of 5", 1),
        "AccessLogFreshnessThresholdSeconds": number(
            900, "Age (s) of the oldest access-log line not yet in S3 (usage shows late), 3 of 5", 60
        ),
        "EventArchiveRetentionDays": number(
            365, "Days the EventBridge archive keeps published events for replays (0: forever)"
        ),
    }


def _alarm(description: str, threshold: dict[str, Any] | float, **metric: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": [{"Ref": "AlarmTopic"}],
        "OKActions": [{"Ref": "AlarmTopic"}],
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": threshold,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "TreatMissingData": "notBreaching",
        **metric,
    }
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _dimensions(**values: Any) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


def _any_of(service: str, metric: str, period: int, description: str) -> dict[str, Any]:
    """Any count of one of the service's own metrics in one period: something that should never be."""
    return _alarm(
        description,
        1,
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=_dimensions(service=service),
        Statistic="Sum",
        Period=period,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
    )


def _queue_alarm(description: str, queue_id: str) -> dict[str, Any]:
    """Any message in a failure queue (something was given up after its retries)."""
    return _alarm(
        description,
        1,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=_dimensions(QueueName={"Fn::GetAtt": [queue_id, "QueueName"]}),
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
    )


def alarms(stage: str, table_ids: dict[str, str]) -> dict[str, Any]:
    """Alarm logical id -> resource. `table_ids`: table logical id -> table name."""
    service = service_name(stage)
    api_name = api_name_of(stage)
    once_an_hour = {"Period": 3600, "EvaluationPeriods": 1, "DatapointsToAlarm": 1}
    found: dict[str, Any] = {
        "AlarmAuthorizerErrors": _alarm(
            "Authorizer failed closed (token store unreadable): real users get 500s. See docs/operations.md.",
            {"Ref": "AuthorizerErrorThreshold"},
            Namespace=NAMESPACE,
            MetricName="Authorizations",
            Dimensions=_dimensions(service=service, Outcome="error"),
            Statistic="Sum",
            Period=60,
        ),
        "AlarmGitHubKeysUnreadable": _any_of(
            service,
            "GitHubKeysUnreadable",
            300,
            "GitHub's secret-scanning keys unreadable for over an hour: leak reports are refused. "
            "See docs/operations.md.",
        ),
        "AlarmAuthorizerLatencyP99": _alarm(
            "Authorizer p99 latency above its threshold: every v2 request waits. See docs/operations.md.",
            {"Ref": "AuthorizerP99ThresholdMs"},
            Namespace=NAMESPACE,
            MetricName="AuthorizerLatency",
            Dimensions=_dimensions(service=service),
            ExtendedStatistic="p99",
            Period=300,
        ),
        "AlarmPoliciesPlanned": _any_of(
            service,
            "PoliciesPlanned",
            900,
            "Tokens planned under another scope catalog are planned on the request path (slow cold "
            "starts): run scripts/replan_policies.py. See docs/operations.md.",
        ),
        "AlarmApi5xxRate": _alarm(
            "Share of API requests answered 5xx above its threshold (SDK-visible). See docs/operations.md.",
            {"Ref": "ServerErrorRateThreshold"},
            Namespace="AWS/ApiGateway",
            MetricName="5XXError",
            Dimensions=_dimensions(ApiName=api_name, Stage="api"),
            Statistic="Average",  # 5XXError is 0 or 1 per request: its average is the rate
            Period=60,
        ),
        "AlarmCleanupErrors": _alarm(
            "The scheduled cleanup failed (reminders and rotation completions wait). See docs/operations.md.",
            {"Ref": "CleanupErrorThreshold"},
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=_dimensions(FunctionName={"Ref": "ScheduledCleanup"}),
            Statistic="Sum",
            **once_an_hour,
        ),
        "AlarmCleanupNotRunning": _alarm(
            "The scheduled cleanup has not run for an hour (schedule disabled or throttled).",
            1,
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=_dimensions(FunctionName={"Ref": "ScheduledCleanup"}),
            Statistic="Sum",
            **once_an_hour,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",  # no data at all is exactly "it did not run"
        ),
        "AlarmCleanupFailuresQueued": _queue_alarm(
            "A cleanup invocation failed after its retries and was kept in the failure queue.",
            "CleanupFailureQueue",
        ),
        **{
            f"AlarmOutbox{name}": _alarm(
                description,
                {"Ref": threshold},
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=_dimensions(FunctionName={"Ref": "PublishAuditEvents"}),
                Statistic=statistic,
                Period=period,
            )
            for name, description, threshold, metric, statistic, period in (
                (
                    "Errors",
                    "The outbox fails: audit events wait in the stream (24 h). See docs/operations.md.",
                    "OutboxErrorThreshold",
                    "Errors",
                    "Sum",
                    300,
                ),
                (
                    "IteratorAge",
                    "Audit events published late (EventBridge refusing or failing). See docs/operations.md.",
                    "OutboxIteratorAgeThresholdMs",
                    "IteratorAge",
                    "Maximum",
                    60,
                ),
            )
        },
        # Usage counting (issue 27): the access log's Firehose stream and its processor, the aggregator.
        "AlarmUsageErrors": _alarm(
            "The usage aggregator fails: Firehose retries, then keeps the lines unprocessed in S3 and "
            "their counts are lost (requests are not). See docs/operations.md.",
            {"Ref": "UsageErrorThreshold"},
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=_dimensions(FunctionName={"Ref": "AggregateUsage"}),
            Statistic="Sum",
            Period=300,
        ),
        "AlarmUsageThrottles": _alarm(
            "The usage aggregator is at its reserved concurrency: counts arrive late, then may be lost. "
            "See docs/operations.md.",
            1,
            Namespace="AWS/Lambda",
            MetricName="Throttles",
            Dimensions=_dimensions(FunctionName={"Ref": "AggregateUsage"}),
            Statistic="Sum",
            Period=300,
        ),
        "AlarmUsageProcessingFailed": _alarm(
            "Access-log batches failed processing after Firehose's retries: kept in S3 under "
            "access-log-errors/, not counted. See docs/operations.md.",
            1,
            Namespace="AWS/Firehose",
            MetricName="ExecuteProcessing.Success",
            Dimensions=_dimensions(DeliveryStreamName={"Ref": "AccessLogStream"}),
            Statistic="Minimum",  # 1 when every processing call of the period succeeded
            Period=300,
            ComparisonOperator="LessThanThreshold",
        ),
        "AlarmAccessLogLate": _alarm(
            "The access log reaches S3 late (processing or delivery stuck): usage shows late. "
            "See docs/operations.md.",
            {"Ref": "AccessLogFreshnessThresholdSeconds"},
            Namespace="AWS/Firehose",
            MetricName="DeliveryToS3.DataFreshness",
            Dimensions=_dimensions(DeliveryStreamName={"Ref": "AccessLogStream"}),
            Statistic="Maximum",
            Period=300,
        ),
        "AlarmOutboxFailuresQueued": _queue_alarm(
            "Audit events were given up after the outbox's retries: republish them. See docs/operations.md.",
            "OutboxFailureQueue",
        ),
    }
    for logical_id, name in table_ids.items():
        metrics = [
            {
                "Id": kind.lower(),
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/DynamoDB",
                        "MetricName": f"{kind}ThrottleEvents",
                        "Dimensions": _dimensions(TableName=name),
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for kind in ("Read", "Write")
        ]
        metrics.append(
            {"Id": "throttles", "Label": f"{name} throttled requests", "Expression": "read + write"}
        )
        found[f"AlarmThrottles{logical_id}"] = _alarm(
            f"DynamoDB throttles on {name}: callers get 503s (the authorizer 500s on tokens).",
            {"Ref": "DynamoDBThrottleThreshold"},
            Metrics=metrics,
        )
    return found


def log_groups() -> dict[str, Any]:
    groups: dict[str, Any] = {
        f"{function}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{function}}}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        for function in FUNCTION_IDS
    }
    return groups


def resources(stage: str, table_ids: dict[str, str]) -> dict[str, Any]:
    """Every resource above plus the properties merged into Chalice's functions and API."""
    found: dict[str, Any] = {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "DisplayName": f"Private Integrations {stage} alarms",
                "KmsMasterKeyId": "alias/aws/sns",
            },
        },
        "CleanupFailureQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": cleanup_failure_queue(stage),
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        **log_groups(),
        **alarms(stage, table_ids),
    }
    tracing = {"Fn::If": ["Tracing", "Active", "PassThrough"]}
    for function in FUNCTION_IDS:
        found[function] = {"Properties": {"Tracing": tracing}}
    found["ScheduledCleanup"]["Properties"].update(
        {
            "ReservedConcurrentExecutions": {"Ref": "CleanupReservedConcurrency"},
            "EventInvokeConfig": {
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {
                    "OnFailure": {
                        "Type": "SQS",
                        "Destination": {"Fn::GetAtt": ["CleanupFailureQueue", "Arn"]},
                    }
                },
            },
        }
    )
    # Its own concurrency: a burst of log batches never takes the API's or the authorizer's.
    found["AggregateUsage"]["Properties"]["ReservedConcurrentExecutions"] = {
        "Ref": "UsageReservedConcurrency"
    }
    found.update(access_log_delivery(stage))
    found["RestAPI"] = {
        "Properties": {
            "Name": api_name_of(stage),  # the ApiName the 5xx alarm watches
            "TracingEnabled": {"Fn::If": ["Tracing", True, False]},
            "AccessLogSetting": {
                "DestinationArn": {"Fn::GetAtt": ["AccessLogStream", "Arn"]},
                "Format": access_log_format(),
            },
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
                    "MetricsEnabled": True,
                }
            ],
        }
    }
    return found


def access_log_stream(stage: str) -> str:
    """API Gateway writes its access log only to a Firehose stream named amazon-apigateway-*."""
    return f"amazon-apigateway-pi-{stage}-access-log"


def access_log_delivery(stage: str) -> dict[str, Any]:
    """The API's access log through Firehose (chosen by cost: bench/capacity.py, docs/decisions.md):
    every line is handed to the usage aggregator (the stream's Lambda processor), which counts it and
    hands it back unchanged; Firehose then keeps the lines in S3 (gzip, `LogRetentionDays`). A batch
    the aggregator fails on is retried twice, then kept under `access-log-errors/`: the log is never
    lost, its counts may be."""
    bucket_arn = {"Fn::GetAtt": ["AccessLogBucket", "Arn"]}
    return {
        "AccessLogBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "access-log-retention",
                            "Status": "Enabled",
                            "ExpirationInDays": {"Ref": "LogRetentionDays"},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            },
        },
        # Firehose's own role: write the bucket, invoke the aggregator; nothing else.
        "AccessLogDeliveryRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "firehose.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "access-log-delivery",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": [
                                        "s3:AbortMultipartUpload",
                                        "s3:GetBucketLocation",
                                        "s3:ListBucket",
                                        "s3:ListBucketMultipartUploads",
                                        "s3:PutObject",
                                    ],
                                    "Resource": [bucket_arn, {"Fn::Sub": "${AccessLogBucket.Arn}/*"}],
                                },
                                {
                                    "Effect": "Allow",
                                    "Action": ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                                    "Resource": [{"Fn::GetAtt": ["AggregateUsage", "Arn"]}],
                                },
                            ],
                        },
                    }
                ],
            },
        },
        "AccessLogStream": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "DeliveryStreamName": access_log_stream(stage),
                "DeliveryStreamType": "DirectPut",
                "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": bucket_arn,
                    "RoleARN": {"Fn::GetAtt": ["AccessLogDeliveryRole", "Arn"]},
                    "Prefix": "access-log/",
                    "ErrorOutputPrefix": "access-log-errors/!{firehose:error-output-type}/",
                    "CompressionFormat": "GZIP",
                    "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 64},
                    "ProcessingConfiguration": {
                        "Enabled": True,
                        "Processors": [
                            {
                                "Type": "Lambda",
                                "Parameters": [
                                    {
                                        "ParameterName": "LambdaArn",
                                        "ParameterValue": {"Fn::GetAtt": ["AggregateUsage", "Arn"]},
                                    },
                                    {"ParameterName": "NumberOfRetries", "ParameterValue": "2"},
                                    # Up to ~4,500 lines per call at 100,000 requests/s; within a minute
                                    # when traffic is low.
                                    {"ParameterName": "BufferSizeInMBs", "ParameterValue": "3"},
                                    {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "60"},
                                ],
                            }
                        ],
                    },
                },
            },
        },
    }


def access_log_format() -> str:
    return access_log.format_text()


def api_name_of(stage: str) -> str:
    return f"private-integrations-{stage}"


def cleanup_failure_queue(stage: str) -> str:
    return f"pi-{stage}-cleanup-failures"


def outbox_failure_queue(stage: str) -> str:
    return f"pi-{stage}-outbox-failures"


def outbox(stage: str, bus: str, mapping_id: str) -> dict[str, Any]:
    """The outbox's stream mapping, its on-failure queue and the archive of what it publishes."""
    from chalicelib.audit.outbox import SOURCE
    from chalicelib.core.config import settings

    bus_path = f"${{AWS::AccountId}}:event-bus/{bus}"
    return {
        "OutboxFailureQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": outbox_failure_queue(stage),
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "EventArchive": {
            "Type": "AWS::Events::Archive",
            "Properties": {
                "ArchiveName": f"private-integrations-{stage}",
                "Description": "Every audit event the outbox published, for replays (StartReplay)",
                "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:" + bus_path},
                "EventPattern": {"source": [SOURCE]},
                "RetentionDays": {"Ref": "EventArchiveRetentionDays"},
            },
        },
        "PublishAuditEvents": {
            "Properties": {
                "Events": {
                    mapping_id: {
                        "Properties": {
                            "Stream": {"Fn::GetAtt": ["TableEvents", "StreamArn"]},
                            "StartingPosition": "TRIM_HORIZON",
                            # Only the failed record and those after it are retried (outbox.handle).
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            "MaximumRetryAttempts": settings.outbox_max_retry_attempts,
                            "BisectBatchOnFunctionError": True,
                            "ParallelizationFactor": 1,  # one batch per shard at a time: stream order
                            "DestinationConfig": {
                                "OnFailure": {"Destination": {"Fn::GetAtt": ["OutboxFailureQueue", "Arn"]}}
                            },
                        }
                    }
                }
            }
        },
    }


def conditions() -> dict[str, Any]:
    return {"Tracing": {"Fn::Equals": [{"Ref": "TracingEnabled"}, "true"]}}


def outputs() -> dict[str, Any]:
    return {
        "AlarmTopicArn": {
            "Description": "SNS topic every alarm notifies: subscribe the on-call rotation to it",
            "Value": {"Ref": "AlarmTopic"},
        },
        "CleanupFailureQueueUrl": {
            "Description": "Failed cleanup invocations (after 2 retries), kept 14 days",
            "Value": {"Ref": "CleanupFailureQueue"},
        },
        "OutboxFailureQueueUrl": {
            "Description": "Stream batches the outbox gave up on (shard and sequence numbers), kept 14 days",
            "Value": {"Ref": "OutboxFailureQueue"},
        },
        "EventArchiveArn": {
            "Description": "EventBridge archive of every published audit event (aws events start-replay)",
            "Value": {"Fn::GetAtt": ["EventArchive", "Arn"]},
        },
    }
