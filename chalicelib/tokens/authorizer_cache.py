"""Flush API Gateway's authorizer cache after a revoking action, so "stops working now" holds.

Best effort and logged: the revocation itself is already committed, and the cache expires on its own
after its TTL. Targets: this service's own API stage (passed by the caller from the request being
served, on deployed stages) and the downstream APIs configured in PI_CACHE_FLUSH_TARGETS
("restApiId/stage,...").
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from chalicelib.core import config

log = logging.getLogger("private_integrations.cache")
ApiStage = tuple[str, str]  # (restApiId, stage)


@functools.cache
def _client() -> Any:
    import boto3  # only revoking actions need it; keeps boto3 off the authorizer's import path

    return boto3.client("apigateway", region_name=config.settings.region)


def targets(own_api: ApiStage | None = None) -> list[ApiStage]:
    found: list[ApiStage] = []
    if config.settings.flush_own_api and own_api is not None:
        found.append(own_api)
    for target in config.settings.cache_flush_targets:
        api_id, _, stage = target.partition("/")
        if api_id and stage and (api_id, stage) not in found:
            found.append((api_id, stage))
    return found


def flush(own_api: ApiStage | None = None) -> int:
    """Flush every target (`own_api`: the stage serving the request, if any); returns how many succeeded."""
    flushed = 0
    for api_id, stage in targets(own_api):
        try:
            _client().flush_stage_authorizers_cache(restApiId=api_id, stageName=stage)
            flushed += 1
            log.info("flushed authorizer cache api=%s stage=%s", api_id, stage)
        except Exception as error:
            log.warning("authorizer cache flush failed api=%s stage=%s: %s", api_id, stage, error)
    return flushed
