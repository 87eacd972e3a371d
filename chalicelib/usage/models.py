"""The usage table: what the gateway saw of each integration, per hour, and its last use per token role.

Items (key `integrationId` + `sk`):
- `h#<YYYY-MM-DDTHH>`: one hour's counters, per token role (`current`, `previous`: the token that was
  current or rotating out when the request was authorized) and outcome, and that hour's last use per
  role. TTL `expiresAt`: 90 days after the hour ends.
- `last`: the integration's last use per role (at, address, user agent) as of the first batch of its
  latest hour, never expiring; where `lastUsed` comes from when no hour item is left, and, through the
  sparse index `by-quiet` (`quietAt` = the end of that hour + 30 days), what `integration.idle` reads.
  The exact last use is the newest hour item's (report.py, and `token.unused`). `idleNoticeFor`: the
  `quietAt` the idle notice was recorded for (the cleanup's claim).
- `a#<YYYY-MM-DD>`: the distinct caller addresses (a string set, `addresses`) of one UTC day, at most
  ADDRESSES_PER_DAY (a full set takes no more: the page's "addresses seen" never needs more, and the
  item stays small). TTL `expiresAt`: like the hour items, 90 days after the day ends.

Access patterns:
- UpdateItem ADD counters (the aggregator, one per integration and hour per batch of log lines) with
  that hour's last use per role SET when newer; the summary is written only by the first batch of each
  hour (so writes follow the integrations active in a batch, plus one per integration and hour);
- UpdateItem ADD of a day's new addresses, conditioned on the set's size (the aggregator, only for
  addresses its container has not written for that day yet; never once the set is known full);
- Query `integrationId` with `sk` between two days' `a#` keys (GET .../usage's `addresses`: 7 days);
- Query `integrationId` with `sk` between two hours (GET .../usage), newest first for the last use
  (also the cleanup's `token.unused`), GetItem `last`;
- Query the sparse GSI `by-quiet` (`quietBucket` = `quiet#00`..`quiet#15`, `quietAt`): summaries whose
  next notice may be due (the cleanup).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.model_base import index_meta, table_meta

QUIET_SHARDS = 16
SUMMARY = "last"
ADDRESSES_PER_DAY = 50  # distinct caller addresses kept per integration and day


def hour_key(hour: str) -> str:
    return f"h#{hour}"


def day_key(day: str) -> str:
    """The item of one UTC day's caller addresses (`day`: YYYY-MM-DD)."""
    return f"a#{day}"


class QuietIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-quiet", KeysOnlyProjection())
    quiet_bucket = UnicodeAttribute(hash_key=True, attr_name="quietBucket")
    quiet_at = NumberAttribute(range_key=True, attr_name="quietAt")


class UsageModel(Model):
    Meta = table_meta("usage")
    integration_id = UnicodeAttribute(hash_key=True, attr_name="integrationId")
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
    # Counters: <role><Outcome>
    current_allowed = NumberAttribute(attr_name="currentAllowed", null=True)
    current_forbidden = NumberAttribute(attr_name="currentForbidden", null=True)
    current_rate_limited = NumberAttribute(attr_name="currentRateLimited", null=True)
    current_outside_allowlist = NumberAttribute(attr_name="currentOutsideAllowlist", null=True)
    previous_allowed = NumberAttribute(attr_name="previousAllowed", null=True)
    previous_forbidden = NumberAttribute(attr_name="previousForbidden", null=True)
    previous_rate_limited = NumberAttribute(attr_name="previousRateLimited", null=True)
    previous_outside_allowlist = NumberAttribute(attr_name="previousOutsideAllowlist", null=True)
    # Last use per role: epoch ms, address, user agent
    current_last_at = NumberAttribute(attr_name="currentLastAt", null=True)
    current_last_ip = UnicodeAttribute(attr_name="currentLastIp", null=True)
    current_last_user_agent = UnicodeAttribute(attr_name="currentLastUserAgent", null=True)
    previous_last_at = NumberAttribute(attr_name="previousLastAt", null=True)
    previous_last_ip = UnicodeAttribute(attr_name="previousLastIp", null=True)
    previous_last_user_agent = UnicodeAttribute(attr_name="previousLastUserAgent", null=True)
    # Hour items: how many batches wrote this hour (the first one also records the hour in the summary).
    writes = NumberAttribute(null=True)
    # Day items (a#): the day's distinct caller addresses, at most ADDRESSES_PER_DAY.
    addresses = UnicodeSetAttribute(null=True)
    # The summary's notices (epoch ms of the last use each was recorded for), and its place in by-quiet.
    idle_notice_for = NumberAttribute(attr_name="idleNoticeFor", null=True)
    quiet_bucket = UnicodeAttribute(attr_name="quietBucket", null=True)
    quiet_at = NumberAttribute(attr_name="quietAt", null=True)
    by_quiet = QuietIndex()


def attribute_name(role: str, outcome: str) -> str:
    """The model attribute counting `outcome` requests of the token in `role` (current_rate_limited)."""
    return f"{role}_{_snake(outcome)}"


def counter(role: str, outcome: str) -> NumberAttribute:
    return getattr(UsageModel, attribute_name(role, outcome))


def last_attributes(role: str) -> tuple[NumberAttribute, UnicodeAttribute, UnicodeAttribute]:
    return (
        getattr(UsageModel, f"{role}_last_at"),
        getattr(UsageModel, f"{role}_last_ip"),
        getattr(UsageModel, f"{role}_last_user_agent"),
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
