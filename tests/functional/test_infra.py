"""`make package` synthesizes each stage offline; cfn-lint passes; the security properties hold."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = {"dev": 60, "prod": 300}  # stage -> authorizer cache TTL
sys.path.insert(0, str(ROOT))

from infra import build  # noqa: E402

# As committed: packaging only verifies them (`make policies` writes them).
POLICY_BYTES_BEFORE_PACKAGING = {
    path.name: path.read_bytes() for path in (ROOT / ".chalice").glob("policy-*.json")
}
COMMITTED_POLICIES = {
    path.name: json.loads(path.read_text()) for path in (ROOT / ".chalice").glob("policy-*.json")
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("package")
    args = [sys.executable, "infra/build.py", "--out", str(out)]
    for stage in STAGES:
        args += ["--stage", stage]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return {stage: out / stage / "out" / "sam.json" for stage in STAGES}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize("stage", list(STAGES))
def test_cfn_lint_passes(templates: dict[str, Path], stage: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(templates[stage])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", list(STAGES))
def test_tables_are_encrypted_recoverable_on_demand_with_ttl(templates: dict[str, Path], stage: str) -> None:
    tables = of_type(load(templates[stage]), "AWS::DynamoDB::Table")
    names = {t["Properties"]["TableName"] for t in tables.values()}
    assert names == {
        f"pi-{stage}-{n}"
        for n in [
            "agencies",
            "locations",
            "users",
            "integrations",
            "tokens",
            "events",
            "contacts",
            "contact-keys",
            "rate-limits",
            "usage",
        ]
    }
    indexes = set()
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in props
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        # Deletion protection on every table in prod; dev tables can be torn down.
        assert props["DeletionProtectionEnabled"] is (stage == "prod")
        assert table["DeletionPolicy"] == "Retain"
        indexes |= {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}
    assert indexes == {"by-owner", "by-due", "by-integration", "by-location", "by-agency", "by-quiet"}
    tokens = next(t for t in tables.values() if t["Properties"]["TableName"] == f"pi-{stage}-tokens")
    assert tokens["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert tokens["Properties"]["KeySchema"] == [{"AttributeName": "tokenHash", "KeyType": "HASH"}]
    # The rate limiter's counters expire after their window.
    named = {t["Properties"]["TableName"]: t for t in tables.values()}
    counters = named[f"pi-{stage}-rate-limits"]
    ttl = counters["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expiresAt", "Enabled": True}
    # Usage counters expire 90 days after their hour.
    usage = named[f"pi-{stage}-usage"]["Properties"]
    assert usage["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert usage["KeySchema"] == [
        {"AttributeName": "integrationId", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def assert_gets_and_updates_one_table_only(role: dict[str, Any], table: str) -> None:
    """The role may GetItem and UpdateItem `table`, write its own logs and traces, and nothing else."""
    statements = _statements(role)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert dynamodb == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": [f"arn:aws:dynamodb:*:*:table/{table}"],
        }
    ]
    others = {a for s in statements for a in s["Action"] if not a.startswith("dynamodb:")}
    assert others == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }


@pytest.mark.parametrize("stage", list(STAGES))
def test_iam_is_least_privilege(templates: dict[str, Path], stage: str) -> None:
    template = load(templates[stage])
    roles = of_type(template, "AWS::IAM::Role")
    assert set(roles) == {
        "ApiHandlerRole",
        "TokenAuthorizerRole",
        "ScheduledCleanupRole",
        "PublishAuditEventsRole",
        "AggregateUsageRole",
        "AccessLogDeliveryRole",  # Firehose's: the access-log bucket and the aggregator, nothing else
    }
    for role in roles.values():
        for statement in _statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), actions
            assert statement["Effect"] == "Allow"
    assert_gets_and_updates_one_table_only(roles["TokenAuthorizerRole"], f"pi-{stage}-tokens")
    # The outbox reads the events stream (through Lambda), puts events on the bus and dead-letters:
    # no table, no cache flush.
    publisher = _statements(roles["PublishAuditEventsRole"])
    assert {
        "Effect": "Allow",
        "Action": [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
        "Resource": [f"arn:aws:dynamodb:*:*:table/pi-{stage}-events/stream/*"],
    } in publisher
    assert {
        "Effect": "Allow",
        "Action": ["events:PutEvents"],
        "Resource": ["arn:aws:events:*:*:event-bus/default"],
    } in publisher
    assert {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": [f"arn:aws:sqs:*:*:pi-{stage}-outbox-failures"],
    } in publisher
    assert len(publisher) == 5  # and logs, X-Ray
    # The cleanup no longer calls EventBridge: the outbox publishes what it records.
    cleanup = _statements(roles["ScheduledCleanupRole"])
    assert not [s for s in cleanup if "events:PutEvents" in s["Action"]]
    # The committed policy files are exactly what the generator writes.
    for function in build.FUNCTIONS:
        assert COMMITTED_POLICIES[build.policy_file(stage, function)] == build.policy(stage, function)


@pytest.mark.parametrize(("stage", "ttl"), list(STAGES.items()))
def test_functions_schedule_authorizer_and_outputs(templates: dict[str, Path], stage: str, ttl: int) -> None:
    template = load(templates[stage])
    functions = of_type(template, "AWS::Serverless::Function")
    assert set(functions) == {
        "APIHandler",
        "TokenAuthorizer",
        "ScheduledCleanup",
        "PublishAuditEvents",
        "AggregateUsage",
    }
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.12"}
    schedule = next(iter(functions["ScheduledCleanup"]["Properties"]["Events"].values()))
    assert schedule["Properties"]["Schedule"] == "rate(15 minutes)"
    env = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert (
        env["PI_STAGE"] == stage
        and env["PI_SESSION_SECRET_ID"] == f"private-integrations/{stage}/session-secret"
    )
    assert "PI_SESSION_SECRET" not in env
    security = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    assert (
        security["token_authorizer"]["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == ttl
    )
    # REQUEST-typed (Chalice's is TOKEN), keyed on the token and the caller's address as API Gateway saw
    # it (never X-Forwarded-For): one cached decision per token and address; the function's URI stays.
    declared = security["token_authorizer"]["x-amazon-apigateway-authorizer"]
    assert declared["type"] == "request"
    sources = [source.strip() for source in declared["identitySource"].split(",")]
    assert sources == ["method.request.header.Authorization", "context.identity.sourceIp"]
    assert "TokenAuthorizer" in json.dumps(declared["authorizerUri"])
    assert not any("forwarded" in source.lower() for source in sources)
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    unauthorized = json.loads(responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"])
    assert unauthorized["statusCode"] == 401 and unauthorized["error"] == "Unauthorized"
    assert responses["ACCESS_DENIED"]["StatusCode"] == "403"
    # Every answer API Gateway writes itself: SPEC's JSON, a trace id, no header value echoed.
    for kind in (
        "MISSING_AUTHENTICATION_TOKEN",
        "ACCESS_DENIED",
        "UNAUTHORIZED",
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
        "THROTTLED",
        "REQUEST_TOO_LARGE",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "INTEGRATION_TIMEOUT",
        "WAF_FILTERED",
        "BAD_REQUEST_BODY",
    ):
        answer = responses[kind]
        assert answer["ResponseParameters"]["Headers"]["X-Trace-Id"] == "context.requestId", kind
        body = json.loads(json_part(answer["ResponseTemplates"]["application/json"]))
        assert (
            set(body) == {"statusCode", "error", "message"}
            and str(body["statusCode"]) == answer["StatusCode"]
        ), kind
        assert "$input" not in body["message"] and "$context.error" not in body["message"], kind
        assert "$method.request" not in json.dumps(answer), kind
    missing = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"])
    assert missing["statusCode"] == 404 and missing["message"].startswith("No such route")
    denied_template = responses["ACCESS_DENIED"]["ResponseTemplates"]["application/json"]
    denied = json.loads(json_part(denied_template))["message"]
    for variable in ("$context.httpMethod", "$context.resourcePath", "$context.authorizer.scopes", "$needs"):
        assert variable in denied
    assert "GET /scopes" in denied
    # The VTL before the body names the scope each of this API's token routes needs.
    assert "($route == 'POST /contacts')#set($needs = 'contacts.write')" in denied_template
    assert "($route == 'PUT /locations/{location_id}')#set($needs = 'locations.write')" in denied_template
    # The caller's address refused (issue 28): the authorizer's Deny says so in its context, and the
    # 403 names the address, not a scope.
    refusal = "#if($context.authorizer.refusal == 'address')"
    assert denied_template.startswith(refusal)
    address = json.loads(denied_template.removeprefix(refusal).split("#{else}")[0])
    assert address["statusCode"] == 403 and "$context.authorizer.sourceIp" in address["message"]
    assert "restricts the addresses" in address["message"] and "$needs" not in address["message"]
    output = template["Outputs"]["TokenAuthorizerArn"]
    assert output["Value"] == {"Fn::GetAtt": ["TokenAuthorizer", "Arn"]} and "Export" in output
    secret = of_type(template, "AWS::SecretsManager::Secret")["SessionSecret"]
    assert secret["Properties"]["Name"] == f"private-integrations/{stage}/session-secret"
    # GitHub's secret-scanning keys: an SSM parameter the API handler reads, and may only read.
    keys = f"/private-integrations/{stage}/github-secret-scanning-keys"
    assert env["PI_GITHUB_KEYS_PARAMETER"] == keys
    parameter = of_type(template, "AWS::SSM::Parameter")["GitHubSecretScanningKeys"]["Properties"]
    assert parameter["Name"] == keys and json.loads(parameter["Value"]) == {"public_keys": []}
    statements = [s for role in of_type(template, "AWS::IAM::Role").values() for s in _statements(role)]
    ssm = [s for s in statements if any(a.startswith("ssm:") for a in s["Action"])]
    arn = f"arn:aws:ssm:*:*:parameter{keys}"
    assert ssm == [{"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": [arn]}]


def test_deployment_package_holds_the_app_and_its_data(templates: dict[str, Path]) -> None:
    names = zipfile.ZipFile(templates["dev"].with_name("deployment.zip")).namelist()
    assert "app.py" in names and "chalicelib/tokens/data/platform-scopes.tsv" in names
    assert any(n.startswith("pynamodb/") for n in names) and any(n.startswith("jwt/") for n in names)
    # GitHub's signatures are checked with `cryptography`: its Linux build, with its compiled bindings.
    assert any(n.startswith("cryptography/hazmat/bindings/_rust") and n.endswith(".so") for n in names)
    # Every compiled module is built for the functions' runtime (python3.12), whatever Python packaged
    # it: cryptography's bindings load cffi's `_cffi_backend`, which is built per Python version.
    runtime_tag = "cpython-" + build.RUNTIME.removeprefix("python").replace(".", "")
    versioned = [n for n in names if n.endswith(".so") and ".cpython-" in n]
    assert any(n.startswith("_cffi_backend.") for n in versioned), versioned
    assert all(runtime_tag in n for n in versioned), versioned
    assert not any(n.startswith(("tests/", "bench/", ".venv/", "seed/", "local/", "scripts/")) for n in names)


def test_every_module_in_the_package_imports_from_the_package_alone(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """No local-only code ships (local/ never; no module of chalicelib imports it), and every module the
    zip holds of the app imports with only the zip on the path (and botocore, which Lambda provides)."""
    names = zipfile.ZipFile(templates["prod"].with_name("deployment.zip")).namelist()
    zipfile.ZipFile(templates["prod"].with_name("deployment.zip")).extractall(tmp_path / "package")
    modules = sorted(
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in names
        if name.endswith(".py") and (name == "app.py" or name.startswith("chalicelib/"))
    )
    assert "chalicelib.tokens.entry" in modules and "app" in modules
    code = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
        "print(failed)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path / "package",
        env={
            "PYTHONPATH": str(tmp_path / "package"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "PI_STAGE": "prod",
            "POWERTOOLS_METRICS_DISABLED": "true",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_the_deployed_authorizer_imports_only_its_own_path(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """The Handler the template names, imported from the built deployment.zip in a fresh interpreter:
    it loads without Chalice's app, JWT or boto3, and answers the REQUEST event API Gateway sends it (401
    for a bad token)."""
    template = load(templates["prod"])
    handler = template["Resources"]["TokenAuthorizer"]["Properties"]["Handler"]
    assert handler == build.AUTHORIZER_HANDLER
    zipfile.ZipFile(templates["prod"].with_name("deployment.zip")).extractall(tmp_path / "package")
    module, _, function = handler.rpartition(".")
    code = (
        "import sys, importlib\n"
        f"handler = getattr(importlib.import_module({module!r}), {function!r})\n"
        "loaded = sorted(m for m in ('boto3', 'jwt', 'chalice', 'app') if m in sys.modules)\n"
        "try:\n"
        "    handler({'type': 'REQUEST', 'headers': {'Authorization': 'Bearer pit-nope'},"
        " 'requestContext': {'identity': {'sourceIp': '203.0.113.7'}},"
        " 'methodArn': 'arn:aws:execute-api:us-east-1:1:api/prod/GET/locations/x'}, None)\n"
        "except Exception as error:\n"
        "    print(loaded, str(error))\n"
    )
    # Only the unpacked package on the path (and the interpreter's own site-packages for botocore,
    # which Lambda's runtime provides), not this checkout.
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path / "package",
        env={"PYTHONPATH": str(tmp_path / "package"), "AWS_DEFAULT_REGION": "us-east-1", "PI_STAGE": "prod"},
        capture_output=True,
        text=True,
        check=True,
    )
    # The last line is ours; an EMF metric line (the authorizer's deny-malformed count) comes before it.
    assert result.stdout.strip().splitlines()[-1] == "[] Unauthorized", result.stdout + result.stderr


def test_packaging_never_rewrites_tracked_files(templates: dict[str, Path]) -> None:
    """`make package` ran for the fixture: the policy files are byte for byte as before it ran."""
    for path in (ROOT / ".chalice").glob("policy-*.json"):
        assert path.read_bytes() == POLICY_BYTES_BEFORE_PACKAGING[path.name]
    for stage in STAGES:
        assert build.stale_policies(stage) == []


# --- operations (issue 16): parameters, logs, tracing, throttling, the cleanup's safety nets, alarms ---

TABLE_IDS = {
    "TableAgencies",
    "TableLocations",
    "TableUsers",
    "TableIntegrations",
    "TableTokens",
    "TableEvents",
    "TableContacts",
    "TableContactKeys",
    "TableRateLimits",
    "TableUsage",
}
FUNCTION_IDS = ("APIHandler", "TokenAuthorizer", "ScheduledCleanup", "PublishAuditEvents", "AggregateUsage")


def transformed(path: Path) -> dict[str, Any]:
    """The template after the SAM transform (as CloudFormation deploys it): proves SAM kept each property."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = load(path)
    for function in of_type(template, "AWS::Serverless::Function").values():
        function["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"  # as cfn-lint does
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return dict(transform(template, {}, NoManagedPolicies()))


def default(template: dict[str, Any], reference: Any) -> Any:
    assert set(reference) == {"Ref"}, reference
    return template["Parameters"][reference["Ref"]]["Default"]


@pytest.mark.parametrize("stage", list(STAGES))
def test_log_group_per_function_with_retention_parameter(templates: dict[str, Path], stage: str) -> None:
    template = load(templates[stage])
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    for function in FUNCTION_IDS:
        group = groups[f"{function}LogGroup"]["Properties"]
        # The log group Lambda writes to (/aws/lambda/<function name>), created with retention.
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert len(groups) == 5  # the API's access log goes to S3 through Firehose (its own test below)


@pytest.mark.parametrize("stage", list(STAGES))
def test_access_log_is_json_with_the_request_id_and_never_a_header(
    templates: dict[str, Path], stage: str
) -> None:
    stages = of_type(transformed(templates[stage]), "AWS::ApiGateway::Stage")
    (api_stage,) = stages.values()
    setting = api_stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["AccessLogStream", "Arn"]}
    fields = json.loads(setting["Format"])
    assert fields["requestId"] == "$context.requestId"  # also X-Trace-Id of every answer
    assert {"status", "httpMethod", "resourcePath", "authorizerStatus"} <= set(fields)
    assert all(value.startswith("$context.") for value in fields.values())
    lowered = setting["Format"].lower()
    assert "authorization" not in lowered and "header" not in lowered and "$input" not in lowered


@pytest.mark.parametrize(("stage", "tracing"), [("dev", "false"), ("prod", "true")])
def test_xray_tracing_on_functions_and_stage_is_a_parameter_on_in_prod(
    templates: dict[str, Path], stage: str, tracing: str
) -> None:
    template = load(templates[stage])
    assert template["Parameters"]["TracingEnabled"]["Default"] == tracing
    assert template["Conditions"]["Tracing"] == {"Fn::Equals": [{"Ref": "TracingEnabled"}, "true"]}
    deployed = transformed(templates[stage])
    for function in FUNCTION_IDS:
        config = deployed["Resources"][function]["Properties"]["TracingConfig"]
        assert config == {"Mode": {"Fn::If": ["Tracing", "Active", "PassThrough"]}}
    (api_stage,) = of_type(deployed, "AWS::ApiGateway::Stage").values()
    assert api_stage["Properties"]["TracingEnabled"] == {"Fn::If": ["Tracing", True, False]}


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_throttling_parameters_and_429_in_spec_json(templates: dict[str, Path], stage: str) -> None:
    template = load(templates[stage])
    (api_stage,) = of_type(transformed(templates[stage]), "AWS::ApiGateway::Stage").values()
    (settings,) = api_stage["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert default(template, settings["ThrottlingRateLimit"]) > 0
    assert default(template, settings["ThrottlingBurstLimit"]) >= default(
        template, settings["ThrottlingRateLimit"]
    )
    throttled = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    body = json.loads(throttled["ResponseTemplates"]["application/json"])
    assert body == {"statusCode": 429, "error": "Too Many Requests", "message": body["message"]}
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"


@pytest.mark.parametrize("stage", list(STAGES))
def test_cleanup_failures_go_to_a_queue_and_its_concurrency_is_reserved(
    templates: dict[str, Path], stage: str
) -> None:
    template = load(templates[stage])
    deployed = transformed(templates[stage])
    configs = of_type(deployed, "AWS::Lambda::EventInvokeConfig").values()
    (invoke_config,) = [c for c in configs if c["Properties"]["FunctionName"] == {"Ref": "ScheduledCleanup"}]
    props = invoke_config["Properties"]
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["CleanupFailureQueue", "Arn"]}}
    }
    queue = template["Resources"]["CleanupFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == f"pi-{stage}-cleanup-failures"
    # The function's own role sends the failed event to the queue.
    cleanup_role = _statements(of_type(template, "AWS::IAM::Role")["ScheduledCleanupRole"])
    assert {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": [f"arn:aws:sqs:*:*:pi-{stage}-cleanup-failures"],
    } in cleanup_role
    reserved = deployed["Resources"]["ScheduledCleanup"]["Properties"]["ReservedConcurrentExecutions"]
    assert default(template, reserved) == 1
    assert "ReservedConcurrentExecutions" not in deployed["Resources"]["APIHandler"]["Properties"]


def json_part(template: str) -> str:
    """A gateway response template without its VTL directives: ACCESS_DENIED has some, and two bodies
    (the address refused, else the route refused): this is the last."""
    return template[template.rindex('{"statusCode"') :].removesuffix("#{end}")


@pytest.mark.parametrize("stage", list(STAGES))
def test_alarms_notify_the_sns_topic_with_thresholds_as_parameters(
    templates: dict[str, Path], stage: str
) -> None:
    template = load(templates[stage])
    topic = template["Resources"]["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    alarms = {name: a["Properties"] for name, a in of_type(template, "AWS::CloudWatch::Alarm").items()}
    assert set(alarms) == {
        "AlarmAuthorizerErrors",
        "AlarmAuthorizerLatencyP99",
        "AlarmPoliciesPlanned",
        "AlarmApi5xxRate",
        "AlarmCleanupErrors",
        "AlarmCleanupNotRunning",
        "AlarmCleanupFailuresQueued",
        "AlarmOutboxErrors",
        "AlarmOutboxIteratorAge",
        "AlarmOutboxFailuresQueued",
        "AlarmGitHubKeysUnreadable",
        "AlarmUsageErrors",
        "AlarmUsageThrottles",
        "AlarmUsageProcessingFailed",
        "AlarmAccessLogLate",
    } | {f"AlarmThrottles{table}" for table in TABLE_IDS}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["ActionsEnabled"] is True
    service = {"Name": "service", "Value": f"private-integrations-{stage}"}  # what the code emits
    errors = alarms["AlarmAuthorizerErrors"]
    assert errors["Namespace"] == "PrivateIntegrations" and errors["MetricName"] == "Authorizations"
    assert errors["Dimensions"] == [service, {"Name": "Outcome", "Value": "error"}]
    assert default(template, errors["Threshold"]) == 5
    keys = alarms["AlarmGitHubKeysUnreadable"]  # scanning_keys refuses reports once keys are stale
    assert keys["MetricName"] == "GitHubKeysUnreadable" and keys["Dimensions"] == [service]
    assert keys["Threshold"] == 1 and keys["DatapointsToAlarm"] == 1
    latency = alarms["AlarmAuthorizerLatencyP99"]
    assert latency["ExtendedStatistic"] == "p99" and latency["Dimensions"] == [service]
    assert default(template, latency["Threshold"]) == 500
    planned = alarms["AlarmPoliciesPlanned"]  # stale stored policies: the replan script is due
    assert planned["MetricName"] == "PoliciesPlanned" and planned["Dimensions"] == [service]
    assert planned["Threshold"] == 1 and planned["Statistic"] == "Sum"
    rate = alarms["AlarmApi5xxRate"]
    assert rate["Namespace"] == "AWS/ApiGateway" and rate["MetricName"] == "5XXError"
    assert rate["Statistic"] == "Average"
    api_name = template["Resources"]["RestAPI"]["Properties"]["Name"]
    assert rate["Dimensions"] == [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": "api"}]
    assert 0 < default(template, rate["Threshold"]) < 1
    missing = alarms["AlarmCleanupNotRunning"]
    assert missing["MetricName"] == "Invocations" and missing["ComparisonOperator"] == "LessThanThreshold"
    assert missing["TreatMissingData"] == "breaching"
    assert alarms["AlarmCleanupErrors"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "ScheduledCleanup"}}
    ]
    tables = of_type(template, "AWS::DynamoDB::Table")
    for table_id in TABLE_IDS:
        throttles = alarms[f"AlarmThrottles{table_id}"]
        names = {
            m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
            for m in throttles["Metrics"]
            if "MetricStat" in m
        }
        table_name = tables[table_id]["Properties"]["TableName"]
        assert names == {
            "ReadThrottleEvents": [{"Name": "TableName", "Value": table_name}],
            "WriteThrottleEvents": [{"Name": "TableName", "Value": table_name}],
        }
        assert default(template, throttles["Threshold"]) == 10


@pytest.mark.parametrize("stage", list(STAGES))
def test_the_outbox_reads_the_events_stream_with_retries_bisecting_and_a_dead_letter_queue(
    templates: dict[str, Path], stage: str
) -> None:
    template = load(templates[stage])
    tables = of_type(template, "AWS::DynamoDB::Table")
    assert tables["TableEvents"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert not [t for name, t in tables.items() if name != "TableEvents" and "StreamSpecification" in t]
    deployed = transformed(templates[stage])
    (mapping,) = of_type(deployed, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["TableEvents", "StreamArn"]}
    assert props["FunctionName"] == {"Ref": "PublishAuditEvents"}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == 10 and props["BisectBatchOnFunctionError"] is True
    assert props["StartingPosition"] == "TRIM_HORIZON" and props["BatchSize"] == 100
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["OutboxFailureQueue", "Arn"]}}
    }
    queue = template["Resources"]["OutboxFailureQueue"]["Properties"]
    assert queue["QueueName"] == f"pi-{stage}-outbox-failures"
    archive = template["Resources"]["EventArchive"]
    assert archive["Type"] == "AWS::Events::Archive"
    assert archive["Properties"]["EventPattern"] == {"source": ["private-integrations"]}
    assert archive["Properties"]["SourceArn"]["Fn::Sub"].endswith(":event-bus/default")
    assert default(template, archive["Properties"]["RetentionDays"]) == 365
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    age = alarms["AlarmOutboxIteratorAge"]["Properties"]
    assert age["MetricName"] == "IteratorAge" and age["Statistic"] == "Maximum"
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "PublishAuditEvents"}}]
    dead = alarms["AlarmOutboxFailuresQueued"]["Properties"]
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["OutboxFailureQueue", "QueueName"]}}
    ]


@pytest.mark.parametrize("stage", list(STAGES))
def test_the_access_log_feeds_the_usage_aggregator_through_firehose_with_least_privilege_and_alarms(
    templates: dict[str, Path], stage: str
) -> None:
    """The stage writes its access log to a Firehose stream whose Lambda processor is the aggregator
    (retried twice), delivered to an encrypted, private S3 bucket kept LogRetentionDays; Firehose's
    role may only write that bucket and invoke the aggregator; the aggregator may only UpdateItem the
    usage table (and GetItem a day's address set) and cannot take the API's concurrency; its failures,
    throttles, failed processing and a late log alarm."""
    from chalicelib.usage import access_log

    template = load(templates[stage])
    stream = template["Resources"]["AccessLogStream"]
    assert stream["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    props = stream["Properties"]
    assert props["DeliveryStreamName"] == f"amazon-apigateway-pi-{stage}-access-log"  # API Gateway's rule
    assert props["DeliveryStreamType"] == "DirectPut"
    destination = props["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == {"Fn::GetAtt": ["AccessLogBucket", "Arn"]}
    assert destination["ErrorOutputPrefix"].startswith("access-log-errors/")
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda"
    assert parameters["LambdaArn"] == {"Fn::GetAtt": ["AggregateUsage", "Arn"]}
    assert parameters["NumberOfRetries"] == "2"
    bucket = template["Resources"]["AccessLogBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "BucketEncryption" in bucket
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": "LogRetentionDays"}
    # The stage writes the fields the aggregator reads, from the one definition.
    (api_stage,) = of_type(transformed(templates[stage]), "AWS::ApiGateway::Stage").values()
    setting = api_stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["AccessLogStream", "Arn"]}
    fields = json.loads(setting["Format"])
    assert fields == access_log.FORMAT
    assert fields["integrationId"] == "$context.authorizer.integrationId"
    assert fields["tokenRole"] == "$context.authorizer.tokenRole"
    assert fields["outsideAllowlist"] == "$context.authorizer.outsideAllowlist"
    function = of_type(template, "AWS::Serverless::Function")["AggregateUsage"]["Properties"]
    assert function["Handler"] == "app.aggregate_usage"
    assert function["ReservedConcurrentExecutions"] == {"Ref": "UsageReservedConcurrency"}
    roles = of_type(template, "AWS::IAM::Role")
    assert_gets_and_updates_one_table_only(roles["AggregateUsageRole"], f"pi-{stage}-usage")
    delivery = roles["AccessLogDeliveryRole"]["Properties"]
    (trust,) = delivery["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    granted = {a: s["Resource"] for s in _statements(roles["AccessLogDeliveryRole"]) for a in s["Action"]}
    assert granted["lambda:InvokeFunction"] == [{"Fn::GetAtt": ["AggregateUsage", "Arn"]}]
    assert granted["s3:PutObject"] == [
        {"Fn::GetAtt": ["AccessLogBucket", "Arn"]},
        {"Fn::Sub": "${AccessLogBucket.Arn}/*"},
    ]
    assert set(granted) == {
        "s3:AbortMultipartUpload",
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:PutObject",
        "lambda:GetFunctionConfiguration",
        "lambda:InvokeFunction",
    }
    alarms = {name: a["Properties"] for name, a in of_type(template, "AWS::CloudWatch::Alarm").items()}
    aggregator = [{"Name": "FunctionName", "Value": {"Ref": "AggregateUsage"}}]
    assert alarms["AlarmUsageErrors"]["MetricName"] == "Errors"
    assert alarms["AlarmUsageThrottles"]["MetricName"] == "Throttles"
    for name in ("AlarmUsageErrors", "AlarmUsageThrottles"):
        assert alarms[name]["Dimensions"] == aggregator and alarms[name]["Namespace"] == "AWS/Lambda"
    firehose = [{"Name": "DeliveryStreamName", "Value": {"Ref": "AccessLogStream"}}]
    failed = alarms["AlarmUsageProcessingFailed"]
    assert failed["MetricName"] == "ExecuteProcessing.Success" and failed["Dimensions"] == firehose
    assert failed["ComparisonOperator"] == "LessThanThreshold"
    late = alarms["AlarmAccessLogLate"]
    assert late["MetricName"] == "DeliveryToS3.DataFreshness" and late["Dimensions"] == firehose
    assert default(template, late["Threshold"]) == 900
    assert "AlarmThrottlesTableUsage" in alarms
