"""Private Integrations: Chalice wiring only. The code lives in chalicelib/."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Chalice, Rate
from chalice.app import AuthRequest, DynamoDBEvent

from chalicelib.audit import outbox
from chalicelib.core import config
from chalicelib.http import web
from chalicelib.http.routes import management, secret_scanning, ui, v2
from chalicelib.integrations import cleanup
from chalicelib.tokens import authorizer
from chalicelib.usage import aggregator

app = Chalice(app_name="private-integrations")
app.log.setLevel(logging.INFO)
logging.getLogger("private_integrations").setLevel(logging.INFO)


# Declares the authorizer to Chalice (the routes behind it, the template). Deployed, the template makes it
# REQUEST-typed and its Lambda runs chalicelib.tokens.entry.handler (infra/build.py); local/gateway.py
# sends that handler the same REQUEST events. This TOKEN-shaped body carries no caller address.
@app.authorizer(ttl_seconds=config.settings.authorizer_cache_ttl_seconds)
def token_authorizer(auth_request: AuthRequest) -> dict[str, Any]:
    return authorizer.authorize(auth_request.token, auth_request.method_arn)


@app.schedule(Rate(config.settings.cleanup_rate_minutes, unit=Rate.MINUTES))
def scheduled_cleanup(event: Any) -> dict[str, int]:
    return cleanup.run()


# The outbox: every audit event the events table's stream carries goes to EventBridge. infra/ gives the
# deployed mapping its stream (the table's StreamArn), retry limit, bisecting and on-failure queue.
@app.on_dynamodb_record(
    stream_arn=config.settings.events_stream_arn,
    batch_size=config.settings.outbox_batch_size,
    starting_position="TRIM_HORIZON",
)
def publish_audit_events(event: DynamoDBEvent) -> dict[str, Any]:
    return outbox.handle(event.to_dict())


# Usage per integration: the processor of the API's access-log Firehose stream (infra/) counts its lines.
@app.lambda_function(name="aggregate_usage")
def aggregate_usage(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return aggregator.handle_firehose(event)


app.register_middleware(web.handle_http, "http")
app.register_blueprint(management.bp)
app.register_blueprint(ui.bp)
app.register_blueprint(secret_scanning.bp)
app.register_blueprint(v2.blueprint(token_authorizer))
web.raise_unexpected_errors_to_middleware(app)
