"""Plan again every live token whose stored policy was planned under another catalog.

Run after a deploy that changes the catalog (the platform's file, PI_EXTRA_SCOPES_FILE) or the planner:
`scripts/replan_policies.py` (the runbook). Until it has reached a token, the authorizer plans that
token's policy on its request path: correct, but slow on a cold instance, and counted
(PoliciesPlanned). A scan reads the whole table once; it runs once per such deploy, not on a schedule.

Each rewrite is conditional on the scopes and version it was planned from, so an edit or rotation
landing meanwhile (which stores its own fresh plan) wins; a token deleted meanwhile is not recreated.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from pynamodb.exceptions import UpdateError

from chalicelib.core.vocabulary import TokenState
from chalicelib.tokens import stored_policy
from chalicelib.tokens.issuing import planned_policy
from chalicelib.tokens.models import TokenModel

log = logging.getLogger("private_integrations.replan")


def replan(should_stop: Callable[[], bool] | None = None) -> dict[str, int]:
    """One pass over the table; returns counts (`stale`, `replanned`, `changedMeanwhile`, and
    `stoppedEarly` when `should_stop` said so: run it again to go on)."""
    current = stored_policy.version()
    counts: Counter[str] = Counter()
    stale = TokenModel.scan(
        filter_condition=TokenModel.state.is_in(TokenState.ACTIVE, TokenState.ROTATING)
        & (TokenModel.policy_version.does_not_exist() | (TokenModel.policy_version != current)),
    )
    for item in stale:
        if should_stop is not None and should_stop():
            counts["stoppedEarly"] = 1
            break
        counts["stale"] += 1
        scopes = [str(scope) for scope in item.scopes or []]
        stored, version = planned_policy(scopes, item.owner_type, item.owner_id)
        planned_from = (
            TokenModel.policy_version.does_not_exist()
            if item.policy_version is None
            else TokenModel.policy_version == item.policy_version
        )
        try:
            item.update(
                actions=[TokenModel.policy.set(stored), TokenModel.policy_version.set(version)],
                condition=TokenModel.token_hash.exists() & (TokenModel.scopes == scopes) & planned_from,
            )
            counts["replanned"] += 1
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            counts["changedMeanwhile"] += 1  # edited, rotated or deleted since the scan read it
    log.info("replan %s", dict(counts))
    named = ("stale", "replanned", "changedMeanwhile", "stoppedEarly")
    return {key: counts[key] for key in named if counts[key]}
