"""Leaked tokens revoke themselves: GitHub's secret-scanning reports (the route checks the signature).

For each reported token: shape and checksum first (no database read for a non-token); a live token
(current, or rotating out) is revoked at once, in one recorded transaction with its `token.leaked`
event (URL and source, never the token). The event reaches EventBridge through the events table's
outbox like every audit event, so nothing here calls EventBridge. The token item stays, revoked with
reason "leaked", so that GitHub's retries get the same label and write nothing; a rotate, a cancel or
a delete removes it (a rotating-out token's item goes at its overlap's end, by TTL).

The integration keeps working only if another live token remains; when the current token leaked it
is marked revoked (reason "leaked", with the URL) until a rotate issues a new one.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.core import clock, db
from chalicelib.core.errors import BadRequest, NotFound, PayloadTooLarge, ServiceUnavailable
from chalicelib.core.vocabulary import RevocationReason, TokenState
from chalicelib.integrations.access import Access, find, owner_of
from chalicelib.integrations.changes import (
    ROTATION_FIELDS,
    finish_ended_rotation,
    token_expired,
    until_applied,
    write_change,
)
from chalicelib.integrations.models import IntegrationModel
from chalicelib.integrations.views import rotation_pending
from chalicelib.tokens import authorizer_cache, token_text
from chalicelib.tokens.authorizer_cache import ApiStage
from chalicelib.tokens.models import TokenModel

log = logging.getLogger("private_integrations.secret_scanning")
SCANNER_ACTOR = "github:secret-scanning"
MAX_MATCHES = 1000
# What is kept of a match (a URL is GitHub's, but the body is not ours to trust for size).
MAX_URL, MAX_FIELD = 2048, 100
# The API handler has 15 s. A live token costs three sequential DynamoDB calls, so a report of many stops
# here, flushes what it revoked and answers 503; GitHub's retry skips the revoked ones (one read each).
REPORT_BUDGET_SECONDS = 10.0
TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"
_SHAPE = (
    'The body must be a JSON array of GitHub secret-scanning matches: [{"token": "...", "type": "...", '
    '"url": "...", "source": "..."}, ...]'
)


class Match(NamedTuple):
    token: str
    type: str
    url: str | None
    source: str | None


def parse_report(body: Any) -> list[Match]:
    """The matches of a report (400 when the body is not such an array, 413 beyond MAX_MATCHES).
    Fields GitHub may add later are ignored: rejecting them would break the integration."""
    if not isinstance(body, list) or not body:
        raise BadRequest(f"{_SHAPE}, with at least one match.")
    if len(body) > MAX_MATCHES:
        raise PayloadTooLarge(f"A report holds at most {MAX_MATCHES} matches; this one holds {len(body)}.")
    matches = []
    for index, entry in enumerate(body):
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise BadRequest(f"{_SHAPE}: match [{index}] has no string 'token'.")
        optional = {name: entry.get(name) for name in ("type", "url", "source")}
        wrong = [name for name, value in optional.items() if value is not None and not isinstance(value, str)]
        if wrong:
            raise BadRequest(f"{_SHAPE}: match [{index}]'s {', '.join(wrong)} must be strings.")
        matches.append(
            Match(
                entry["token"],
                (optional["type"] or "")[:MAX_FIELD],
                optional["url"][:MAX_URL] if optional["url"] else None,
                optional["source"][:MAX_FIELD] if optional["source"] else None,
            )
        )
    return matches


def report(matches: list[Match], *, own_api: ApiStage | None = None) -> list[dict[str, str]]:
    """GitHub's feedback, one label per match; each token is handled once (its first match's URL)."""
    labels: dict[str, str] = {}
    out_of_time = clock.out_of_time_after(REPORT_BUDGET_SECONDS)
    try:
        for match in matches:
            if match.token in labels:
                continue
            if labels and out_of_time():
                raise ServiceUnavailable(
                    "This report takes longer than one request may: the tokens handled so far are revoked, "
                    "the others not yet. Send the same report again: each token is handled once."
                )
            labels[match.token] = _handle(match)
    except db.Unavailable:
        if TRUE_POSITIVE in labels.values():
            raise ServiceUnavailable(
                "The database is busy or unreachable: the tokens handled before that are revoked, the "
                "others not yet. Send the same report again: each token is handled once."
            ) from None
        raise
    finally:
        # Also when the report names a token an earlier attempt revoked: that attempt may have been
        # cut off (a 503 above, a Lambda timeout) before flushing, and a cached Allow must not outlive
        # the revocation.
        if TRUE_POSITIVE in labels.values():
            authorizer_cache.flush(own_api)
    log.info("secret-scanning report: %d matches, %d tokens", len(matches), len(labels))
    return [{"token_raw": m.token, "token_type": m.type, "label": labels[m.token]} for m in matches]


def _label(item: TokenModel | None) -> str:
    """A token revoked because it leaked stays a true positive (GitHub's retries); unknown or otherwise
    revoked (rotated out, deleted, expired) is a false positive."""
    if item is None or item.state != TokenState.REVOKED:
        return FALSE_POSITIVE
    return TRUE_POSITIVE if item.revoked_reason == RevocationReason.LEAKED else FALSE_POSITIVE


def _read(token_hash: str) -> TokenModel | None:
    try:
        return TokenModel.get(token_hash, consistent_read=True)
    except TokenModel.DoesNotExist:
        return None


def _handle(match: Match) -> str:
    """The token's label, after revoking it if it was live."""
    if not token_text.is_well_formed(match.token):
        return FALSE_POSITIVE  # no database read for a non-token
    token_hash = token_text.digest(match.token)
    item = _read(token_hash)
    if item is None or item.state not in (TokenState.ACTIVE, TokenState.ROTATING):
        return _label(item)
    integration = find(item.integration_id)
    if integration is None:
        return FALSE_POSITIVE
    target = Access(integration, owner_of(integration))
    try:
        revoked = until_applied(target, lambda current: _revoke_once(current, token_hash, match))
    except NotFound:
        return FALSE_POSITIVE  # the integration was deleted meanwhile, its tokens with it
    if revoked:
        # The operator's trace of it (the owner's is the audit event); never the token.
        log.warning("leaked token revoked integration=%s hint=%s", item.integration_id, item.hint)
        return TRUE_POSITIVE
    return _label(_read(token_hash))  # no longer live: a racing request revoked or rotated it


def _revoke_once(integration: IntegrationModel, token_hash: str, match: Match) -> bool:
    """One conditioned, recorded transaction revoking the token; False if it is no longer live here."""
    now = clock.now()
    current = (
        integration.token_hash == token_hash
        and integration.revoked_reason is None
        and not token_expired(integration, now)  # past its chosen expiry: no longer live
    )
    previous = integration.previous_token_hash == token_hash and rotation_pending(integration, now)
    if not (current or previous):
        return False
    changes: dict[str, Any]
    if current:
        changes = {
            "revoked_reason": RevocationReason.LEAKED,
            "revoked_at": now,
            "leak_url": match.url,
            "leak_source": match.source,
        }
        still_works = rotation_pending(integration, now)
        hint = integration.token_hint
    else:
        changes = dict.fromkeys(ROTATION_FIELDS)  # the rotation is over: its old token is revoked
        still_works = integration.revoked_reason is None and not token_expired(integration, now)
        hint = integration.previous_token_hint
    details = {
        "tokenHint": hint,
        "token": "current" if current else "previous",
        "url": match.url,
        "source": match.source,
        "type": match.type,
        "integrationWorks": still_works,
    }
    event = audit.new_event("token.leaked", SCANNER_ACTOR, owner_of(integration), details, integration.id)
    was = TokenState.ACTIVE if current else TokenState.ROTATING

    def operations(tx: TransactWrite) -> None:
        revoke: list[Action] = [
            TokenModel.state.set(TokenState.REVOKED),
            TokenModel.revoked_reason.set(RevocationReason.LEAKED),
            # Nothing left for the cleanup to do (a rotating-out item keeps expiresAt: TTL removes it).
            TokenModel.due_bucket.remove(),
            TokenModel.due_at.remove(),
        ]
        if current:
            # The integration points at this record until a rotate: its chosen expiry must not let TTL
            # delete it first (the authorizer refuses it by its state).
            revoke.append(TokenModel.expires_at.remove())
        tx.update(
            TokenModel(token_hash),
            actions=revoke,
            condition=(TokenModel.integration_id == integration.id) & (TokenModel.state == was),
        )
        if current:
            finish_ended_rotation(tx, integration, changes, now)

    write_change(integration, changes, event, operations)
    return True
