"""Emergency: revoke every token of an agency at once (its own and its sub-accounts' integrations).

For a compromised agency (a leaked admin session, a leaked secret store). In order:

1. The fence: the agency's `sessionsValidAfter` is set to this second. Every session of the agency's
   users issued at or before it is refused from now on (also the caller's: sign in again), and every
   token-issuing transaction (create, rotate) conditions on it, so a create or rotate whose session was
   checked before cannot commit after this write.
2. Every integration of the agency is found: each owner's `by-owner` query, repeated while it returns
   fewer integrations than the owner's `integrationCount` (read consistently; the index is eventually
   consistent on DynamoDB, so an integration committed just before the fence may be missing at first).
3. Each is deleted the way a user deletes it (integrations/service.py: one idempotent transaction with
   its audit event, retried until it applies), marked `emergency` with the operator's reason.
4. The authorizer caches are flushed once, and one agency-level `agency.revoked_all` event records the
   reason and the counts (published by the outbox like every event).

A run that meets an unavailable database keeps going with the other integrations, then answers 503
saying how many were revoked: calling it again (signed in again) revokes the rest (what is gone stays
gone).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.audit import trail as audit
from chalicelib.core import clock, config, db
from chalicelib.core.errors import NotFound, ServiceUnavailable, ValidationFailed
from chalicelib.core.vocabulary import Owner, OwnerType
from chalicelib.directory import accounts as directory
from chalicelib.directory import permissions
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.integrations import service
from chalicelib.integrations.access import Access, owner_of
from chalicelib.integrations.models import IntegrationModel
from chalicelib.integrations.validation import unsafe_character
from chalicelib.tokens import authorizer_cache
from chalicelib.tokens.authorizer_cache import ApiStage

log = logging.getLogger("private_integrations.emergency")
REASON_MAX = 500
EVENT_TYPE = "agency.revoked_all"
# The index may lag the owners' counters for a moment: query again this many times, waiting longer each time.
LISTING_ATTEMPTS, LISTING_WAIT_SECONDS = 6, 0.05


def require_admin(user: UserModel, agency_id: str) -> None:
    """Only an agency admin of that agency (404 for another agency), whatever the Labs setting."""
    permissions.require_agency_admin(
        user, agency_id, "Only agency admins can revoke every token of the agency."
    )


def parse_body(body: dict[str, Any]) -> str:
    """The reason the audit records: {"reason": "<1-500 characters>"}."""
    problems = [f"'{key}' is not allowed (allowed: reason)" for key in body if key != "reason"]
    reason = body.get("reason")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= REASON_MAX:
        problems.insert(
            0,
            f"reason is required: why every token is revoked, 1 to {REASON_MAX} characters (after trimming)",
        )
    elif unsafe := unsafe_character(reason, allowed=""):
        problems.insert(0, f"reason must not contain control characters or bidi overrides (found {unsafe})")
    if problems:
        raise ValidationFailed(problems)
    return str(reason).strip()


def _owners(agency_id: str) -> list[Owner]:
    return [Owner(OwnerType.AGENCY, agency_id, agency_id)] + [
        Owner(OwnerType.LOCATION, location.id, agency_id)
        for location in LocationModel.by_agency.query(agency_id)
    ]


def _counted(owner: Owner) -> int:
    """How many integrations the owner has, by its counter (a consistent read)."""
    model = AgencyModel if owner.type == OwnerType.AGENCY else LocationModel
    try:
        return int(model.get(owner.id, consistent_read=True).integration_count or 0)
    except model.DoesNotExist:
        return 0


def agency_integrations(agency_id: str) -> tuple[list[IntegrationModel], bool]:
    """Every integration of the agency: its own, then each sub-account's; and whether the listing is
    complete (each owner's index query found at least as many as its counter says it has)."""
    found: list[IntegrationModel] = []
    complete = True
    for owner in _owners(agency_id):
        for attempt in range(LISTING_ATTEMPTS):
            listed = list(IntegrationModel.by_owner.query(owner.key))
            if len(listed) >= _counted(owner):
                break
            if attempt == LISTING_ATTEMPTS - 1:
                complete = False
            else:
                time.sleep(LISTING_WAIT_SECONDS * 2**attempt)  # the index catches up within about a second
        found.extend(listed)
    return found, complete


def _fence(agency_id: str, valid_after: int) -> None:
    """Sessions issued at or before `valid_after` end, and token-issuing transactions that checked one of
    them fail their condition. Never moves the instant earlier; idempotent."""

    def landed() -> bool:
        stored = AgencyModel.get(agency_id, consistent_read=True).sessions_valid_after
        return stored is not None and stored >= valid_after

    try:
        with db.idempotent_transaction(landed) as tx:
            tx.update(
                AgencyModel(agency_id),
                actions=[AgencyModel.sessions_valid_after.set(valid_after)],
                condition=AgencyModel.id.exists()
                & (
                    AgencyModel.sessions_valid_after.does_not_exist()
                    | (AgencyModel.sessions_valid_after < valid_after)
                ),
            )
    except db.LostRace:
        raise NotFound(f"Agency '{agency_id}' was not found.") from None
    except db.Unavailable:
        raise ServiceUnavailable(
            "The database is busy or unreachable: no session was ended and no token was revoked. Call again."
        ) from None


def revoke_all(
    actor_id: str, agency_id: str, reason: str, *, own_api: ApiStage | None = None
) -> dict[str, Any]:
    """End the agency's sessions, delete every integration of the agency (audited), flush the
    authorizer caches and record one agency-level event with the counts."""
    directory.get_agency(agency_id)  # 404 for an agency that does not exist
    # A session may carry an `iat` up to the clock skew ahead of our clock (sessions.py): those are ended
    # too, so the cut-off is that far ahead, and signing in again works once it has passed.
    valid_after = clock.epoch(clock.now()) + config.settings.session_clock_skew_seconds
    valid_after_iso = clock.iso(datetime.fromtimestamp(valid_after, UTC))
    _fence(agency_id, valid_after)
    try:
        found, complete = agency_integrations(agency_id)
    except Exception as error:
        if not db.is_unavailable(error):
            raise
        raise ServiceUnavailable(
            f"Every session of the agency issued until {valid_after_iso} has ended, but the database is busy "
            "or unreachable: no private integration was revoked yet. Sign in again and call again."
        ) from None
    details = {"emergency": True, "reason": reason}
    revoked, tokens_revoked, failed = 0, 0, 0
    for integration in found:
        target = Access(integration, owner_of(integration))
        try:
            tokens_revoked += service.delete_recorded(actor_id, target, details)
            revoked += 1
        except NotFound:
            revoked += 1  # deleted meanwhile: its tokens are gone too
        except Exception as error:
            if not db.is_unavailable(error):
                raise
            failed += 1
            log.warning("emergency revoke: %s not revoked yet: %s", integration.id, type(error).__name__)
    if revoked:
        authorizer_cache.flush(own_api)
    log.warning(
        "emergency revoke-all agency=%s actor=%s revoked=%d tokens=%d failed=%d complete=%s",
        agency_id, actor_id, revoked, tokens_revoked, failed, complete,
    )  # fmt: skip
    counts = {"revokedIntegrations": revoked, "revokedTokens": tokens_revoked}
    event_details = {"reason": reason, **counts, "sessionsValidAfter": valid_after_iso}
    if failed or not complete:
        event_details["notRevokedYet"] = failed if complete else "unknown"
    event = audit.new_event(
        EVENT_TYPE, actor_id, Owner(OwnerType.AGENCY, agency_id, agency_id), event_details
    )
    recorded = True
    try:
        with audit.recorded_change(event):
            pass  # the event alone: each deletion was recorded in its own transaction
    except db.Unavailable:
        recorded = False
    if failed or not complete or not recorded:
        why = (
            "the index of integrations is behind the owners' counters"
            if not complete
            else "the database is busy or unreachable"
        )
        raise ServiceUnavailable(
            f"Every session of the agency issued until {valid_after_iso} has ended, but {why}: {revoked} of "
            f"{len(found)} private integrations were revoked. Sign in again and call again to revoke the "
            "rest (and record it)."
        )
    return {
        "agencyId": agency_id,
        **counts,
        "sessionsValidAfter": valid_after_iso,
        "message": (
            f"Every token of the agency is revoked and every session of its users issued until "
            f"{valid_after_iso} has ended, yours too: sign in again after that time (a session's clock "
            f"may run up to {config.settings.session_clock_skew_seconds} s ahead of ours)."
        ),
    }
