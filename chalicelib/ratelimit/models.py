"""The rate-limits table: one counter item per counted key and window.

Access patterns:
- UpdateItem `ADD count :lease` conditioned on `count <= :limit - :lease` (a container reserving a lease
  of budget; never past the limit);
- GetItem (consistent) after a refused reservation: how much is left for a smaller lease;
- BatchGetItem: a location's use of its daily limit today (the management page).

Keys: `b#<integrationId>#<scope>#<window index>` (burst) and `d#<scope>#<YYYY-MM-DD>` (daily), where
scope is `l:<locationId>` or `a:<agencyId>`. Items expire by TTL (`expiresAt`) after their window.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.model_base import table_meta


class CounterModel(Model):
    Meta = table_meta("rate-limits")
    key = UnicodeAttribute(hash_key=True)
    # Requests reserved by containers in this window (admitted, or leased to a container and not yet used).
    reserved = NumberAttribute(attr_name="count", default=0)
    expires_at = NumberAttribute(attr_name="expiresAt")
