"""`make package`: the CloudFormation (SAM) template of each stage, synthesized offline.

Chalice packages the functions, the API, the authorizer and the schedule (`chalice package`); this
script writes what Chalice does not know about and merges it in (`--merge-template`):
  * the DynamoDB tables, derived from the PynamoDB models (keys and every GSI the code queries),
    on-demand, encrypted, with point-in-time recovery and the TTL attribute;
  * the session secret (Secrets Manager, generated), read at runtime and cached;
  * the python3.12 runtime for every function, the authorizer REQUEST-typed (Chalice's is TOKEN) with
    the caller's address as an identity source, and the authorizer's ARN as an exported output;
  * one least-privilege IAM policy per function and stage in .chalice/ (Chalice's automatic policy
    cannot see PynamoDB's calls), referenced from .chalice/config.json: written by `make policies`
    (--write-policies), only verified when packaging.
  * what an operator needs (infra/operations.py): parameters, log groups with retention, access logs,
    tracing, throttling, alarms to an SNS topic, the cleanup's failure queue and reserved concurrency;
    deletion protection on every table in prod.

Usage: python infra/build.py [--stage dev] [--stage prod] [--out build]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script (`make package`): the project's packages

from infra import operations  # noqa: E402

CHALICE_DIR = ROOT / ".chalice"
RUNTIME = "python3.12"
AUTHORIZER_HANDLER = "chalicelib.tokens.entry.handler"
# Chalice's built-in authorizer is TOKEN-typed, which gives the Lambda no caller address. REQUEST with
# these identity sources: the token and the TCP peer API Gateway saw (never X-Forwarded-For), so API
# Gateway caches one decision per token and address (an allowlist's Deny is for that address only).
AUTHORIZER_NAME = "token_authorizer"
AUTHORIZER_IDENTITY_SOURCES = "method.request.header.Authorization, context.identity.sourceIp"
FUNCTIONS = {
    "api_handler": "APIHandler",
    "token_authorizer": "TokenAuthorizer",
    "scheduled_cleanup": "ScheduledCleanup",
    "publish_audit_events": "PublishAuditEvents",
    "aggregate_usage": "AggregateUsage",
}

# What each function does to which table (the code's own calls; transactions need the item actions).
READ_WRITE = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
TABLE_ACCESS: dict[str, dict[str, list[str]]] = {
    "api_handler": {
        # ConditionCheckItem: the revoke-all fence that every token-issuing transaction checks.
        "agencies": ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
        "locations": ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        "users": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        "integrations": [*READ_WRITE, "dynamodb:Query"],
        "tokens": [*READ_WRITE, "dynamodb:BatchGetItem"],
        # GetItem: after a lost answer, a transaction's own audit event tells whether it committed.
        "events": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "contacts": [*READ_WRITE, "dynamodb:Query"],
        "contact-keys": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
        # The rate limiter: a lease is one conditional UpdateItem; GetItem after a refused one; the page's
        # daily use is one BatchGetItem.
        "rate-limits": ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
        # GET .../usage: the hours of a window (Query) and the last use (GetItem).
        "usage": ["dynamodb:GetItem", "dynamodb:Query"],
    },
    "token_authorizer": {"tokens": ["dynamodb:GetItem", "dynamodb:UpdateItem"]},
    "scheduled_cleanup": {
        # GetItem on events: whether a transaction committed (its own audit event is there).
        "tokens": ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        "integrations": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        "events": ["dynamodb:GetItem", "dynamodb:PutItem"],
        # token.unused and integration.idle: the last use (GetItem), the quiet index (Query), the claim.
        "usage": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    },
    # The outbox reads no table: Lambda reads the events table's stream for it (STREAM_READ below).
    "publish_audit_events": {},
    # The usage aggregator adds to counters and address sets and sets last uses (UpdateItem); it reads
    # only a day's address set when new addresses do not all fit (GetItem: how many still do).
    "aggregate_usage": {"usage": ["dynamodb:GetItem", "dynamodb:UpdateItem"]},
}
# What Lambda's event source mapping needs, with the function's role, to read a DynamoDB stream.
STREAM_READ = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]
FLUSH_CACHE = {
    "Effect": "Allow",
    "Action": ["apigateway:DELETE"],
    "Resource": ["arn:aws:apigateway:*::/restapis/*/stages/*/cache/authorizers"],
}
LOGS = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": ["arn:aws:logs:*:*:*"],
}

# Active tracing (a parameter, on in prod) sends segments with the function's role; X-Ray has no
# resource-level permissions for these two actions.
XRAY = {
    "Effect": "Allow",
    "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    "Resource": ["*"],
}


def stage_config(stage: str) -> dict[str, Any]:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    return dict(config["stages"][stage])


def stage_settings(stage: str) -> Any:
    """The settings a stage's functions run with (its config.json environment): one source of names."""
    from chalicelib.core.config import Settings

    return Settings.from_env({**stage_config(stage).get("environment_variables", {}), "PI_STAGE": stage})


def table_name(stage: str, short: str) -> str:
    return str(stage_settings(stage).table_name(short))


def secret_name(stage: str) -> str:
    return str(stage_settings(stage).session_secret_name)


def github_keys_parameter(stage: str) -> str:
    return str(stage_settings(stage).github_keys_parameter_name)


def policy(stage: str, function: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for short, actions in TABLE_ACCESS[function].items():
        arn = f"arn:aws:dynamodb:*:*:table/{table_name(stage, short)}"
        resources = [arn, f"{arn}/index/*"] if "dynamodb:Query" in actions else [arn]
        statements.append({"Effect": "Allow", "Action": sorted(actions), "Resource": resources})
    if function == "api_handler":
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [f"arn:aws:secretsmanager:*:*:secret:{secret_name(stage)}-*"],
            }
        )
        # GitHub's secret-scanning keys (a parameter name starts with "/", its ARN has it once).
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [f"arn:aws:ssm:*:*:parameter{github_keys_parameter(stage)}"],
            }
        )
    if function == "publish_audit_events":
        events_table = table_name(stage, "events")
        statements.append(
            {
                "Effect": "Allow",
                "Action": STREAM_READ,
                "Resource": [f"arn:aws:dynamodb:*:*:table/{events_table}/stream/*"],
            }
        )
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": [f"arn:aws:events:*:*:event-bus/{event_bus(stage)}"],
            }
        )
    failure_queues = {
        "scheduled_cleanup": operations.cleanup_failure_queue(stage),
        "publish_audit_events": operations.outbox_failure_queue(stage),
    }
    if function in failure_queues:
        # Lambda sends a failed invocation (batch) to the on-failure destination with the function's role.
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [f"arn:aws:sqs:*:*:{failure_queues[function]}"],
            }
        )
    if function in ("api_handler", "scheduled_cleanup"):
        statements.append(FLUSH_CACHE)
    statements.append(LOGS)
    statements.append(XRAY)
    return {"Version": "2012-10-17", "Statement": statements}


def event_bus(stage: str) -> str:
    return str(stage_settings(stage).event_bus_name)


def policy_file(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def _hash_first(key_schema: Any) -> list[Any]:
    return sorted(key_schema, key=lambda key: key["KeyType"] != "HASH")


def _gateway_responses() -> Any:
    from chalicelib.http import gateway_responses

    return gateway_responses


def table_resources(stage: str) -> dict[str, Any]:
    """One AWS::DynamoDB::Table per PynamoDB model, keys and GSIs taken from the model itself."""
    from chalicelib import tables
    from chalicelib.core.config import settings

    resources: dict[str, Any] = {}
    for model in tables.ALL_MODELS:
        short = model.Meta.table_name[len(settings.table_prefix) :]
        schema = model._get_schema()
        attributes = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        properties: dict[str, Any] = {
            "TableName": table_name(stage, short),
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": _hash_first(schema["key_schema"]),
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            # Prod tables cannot be deleted by any API call until an operator turns this off.
            "DeletionProtectionEnabled": stage == "prod",
        }
        indexes = []
        for index in schema["global_secondary_indexes"]:
            attributes.update(
                {a["AttributeName"]: a["AttributeType"] for a in index["attribute_definitions"]}
            )
            indexes.append(
                {
                    "IndexName": index["index_name"],
                    "KeySchema": _hash_first(index["key_schema"]),
                    "Projection": index["projection"],
                }
            )
        if indexes:
            properties["GlobalSecondaryIndexes"] = indexes
        properties["AttributeDefinitions"] = [
            {"AttributeName": name, "AttributeType": kind} for name, kind in sorted(attributes.items())
        ]
        if model in tables.TTL_MODELS:
            properties["TimeToLiveSpecification"] = {"AttributeName": "expiresAt", "Enabled": True}
        if getattr(model.Meta, "stream_view_type", None):  # the events table: the outbox's stream
            properties["StreamSpecification"] = {"StreamViewType": model.Meta.stream_view_type}
        logical_id = "Table" + "".join(part.capitalize() for part in short.split("-"))
        resources[logical_id] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
    return resources


def token_routes() -> dict[tuple[str, str], list[str]]:
    """This API's routes behind the token authorizer, as API Gateway names them, and the scopes that
    open each (the 403's "it needs ..." on AWS)."""
    from app import app
    from chalicelib.tokens import catalog

    return {
        (method, path): catalog.scopes_opening(method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None
    }


def merge_template(stage: str) -> dict[str, Any]:
    gateway_responses = _gateway_responses()
    routes = token_routes()
    resources = table_resources(stage)
    resources["SessionSecret"] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": secret_name(stage),
            "Description": "HS256 secret of GrowthHub session tokens (shared with the platform signing them)",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }
    # GitHub's secret-scanning keys document (public keys: a String). Created empty, so every report is
    # refused until an operator puts GitHub's document in it (docs/secret-scanning.md); CloudFormation
    # leaves the value alone on later updates as long as this placeholder does not change.
    resources["GitHubSecretScanningKeys"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": github_keys_parameter(stage),
            "Type": "String",
            "Value": json.dumps({"public_keys": []}),
            "Description": "GitHub's meta/public_keys/secret_scanning document: verifies leak reports",
        },
    }
    for logical_id in FUNCTIONS.values():
        resources[logical_id] = {"Properties": {"Runtime": RUNTIME}}
    # The authorizer's own lean entry module instead of `app.token_authorizer`, which would import the
    # whole app (Chalice, every route, JWT) on every cold start in front of every v2 request.
    resources["TokenAuthorizer"]["Properties"]["Handler"] = AUTHORIZER_HANDLER
    request_authorizer = {"type": "request", "identitySource": AUTHORIZER_IDENTITY_SOURCES}
    # Whenever API Gateway answers itself, it answers in SPEC's JSON with a trace id, and never with
    # its own message (which echoes the Authorization header for an unknown route).
    resources["RestAPI"] = {
        "Properties": {
            # Deep-merged into Chalice's definition: its URI and cache TTL stay, the type and sources change.
            "DefinitionBody": {
                "securityDefinitions": {
                    AUTHORIZER_NAME: {"x-amazon-apigateway-authorizer": request_authorizer}
                }
            },
            "GatewayResponses": {
                response_type: {
                    "StatusCode": str(gateway_responses.status(response_type)),
                    "ResponseTemplates": {
                        "application/json": gateway_responses.template(response_type, routes)
                    },
                    "ResponseParameters": {
                        "Headers": {
                            "X-Trace-Id": "context.requestId",
                            "Content-Type": "'application/json'",
                            "Cache-Control": "'no-store'",
                        }
                    },
                }
                for response_type in gateway_responses.BY_TYPE
            }
        }
    }
    for answer in resources["RestAPI"]["Properties"]["GatewayResponses"].values():
        if answer["StatusCode"] == "429":  # stage throttling (THROTTLED) and quotas: when to retry
            answer["ResponseParameters"]["Headers"]["Retry-After"] = "'1'"
    tables = {
        logical_id: table["Properties"]["TableName"]
        for logical_id, table in resources.items()
        if table.get("Type") == "AWS::DynamoDB::Table"
    }
    _merge(resources, operations.resources(stage, tables))
    _merge(resources, operations.outbox(stage, event_bus(stage), stream_source_id()))
    return {
        "Parameters": operations.parameters(stage),
        "Conditions": operations.conditions(),
        "Resources": resources,
        "Outputs": {
            "TokenAuthorizerArn": {
                "Description": (
                    "Lambda authorizer for downstream APIs: REQUEST, identity sources "
                    + AUTHORIZER_IDENTITY_SOURCES
                ),
                "Value": {"Fn::GetAtt": ["TokenAuthorizer", "Arn"]},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-TokenAuthorizerArn"}},
            },
            **operations.outputs(),
        },
    }


def stream_source_id() -> str:
    """The SAM event name Chalice gives the outbox's stream mapping (its function name, camel-cased)."""
    return "PublishAuditEventsDynamodbEventSource"


def policy_text(stage: str, function: str) -> str:
    return json.dumps(policy(stage, function), indent=2) + "\n"


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    """Nested dictionaries merge; anything else in `more` replaces."""
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def write_policies(stage: str) -> None:
    """`make policies`: the build step that writes .chalice/policy-*.json (checked in, and checked by
    tests/functional/test_infra.py); packaging only verifies them, so it never rewrites a tracked file."""
    for function in FUNCTIONS:
        (CHALICE_DIR / policy_file(stage, function)).write_text(policy_text(stage, function))


def stale_policies(stage: str) -> list[str]:
    return [
        policy_file(stage, function)
        for function in FUNCTIONS
        if not (CHALICE_DIR / policy_file(stage, function)).exists()
        or (CHALICE_DIR / policy_file(stage, function)).read_text() != policy_text(stage, function)
    ]


def package(stage: str, out: Path) -> Path:
    """Synthesize build/<stage>/sam.json; needs no AWS account or credentials."""
    stale = stale_policies(stage)
    if stale:
        raise SystemExit(
            f"{', '.join(stale)} out of date with infra/build.py: run `make policies` and commit"
        )
    stage_dir = out / stage
    stage_dir.mkdir(parents=True, exist_ok=True)
    merge_path = stage_dir / "merge.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2))
    # Chalice imports app.py to discover resources: give it the stage's settings (e.g. the cache TTL).
    env = {**os.environ, **stage_config(stage).get("environment_variables", {})}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["PI_LAMBDA_RUNTIME"] = RUNTIME
    subprocess.run(  # noqa: S603 - this venv's chalice with fixed arguments
        [
            sys.executable,
            # Chalice, packaging the wheels of compiled packages for RUNTIME (not this Python's version).
            str(ROOT / "infra" / "chalice_runtime.py"),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge_path),
            str(stage_dir / "out"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return stage_dir / "out" / "sam.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", action="append", help="stage to package (default: every stage but local)")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output folder")
    parser.add_argument(
        "--write-policies", action="store_true", help="write .chalice/policy-*.json (make policies) and stop"
    )
    args = parser.parse_args()
    stages = args.stage or [
        s for s in json.loads((CHALICE_DIR / "config.json").read_text())["stages"] if s != "local"
    ]
    for stage in stages:
        if args.write_policies:
            write_policies(stage)
            print(f"{stage}: .chalice/policy-{stage}-*.json written")
        else:
            print(f"{stage}: {package(stage, Path(args.out))}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
