"""`make scale`: a capacity model of the DynamoDB access patterns at internet scale, checked at small scale.

The access patterns are not written here: every operation (authorize, a v2 request's rate-limit check,
create, rotate, ..., the cleanup's work, the emergency revoke-all) is run against moto and its DynamoDB
requests are recorded with botocore event hooks, with the tables' images around them (item sizes by
DynamoDB's rules, the index entries a write removes). Which index a write touches comes from the
PynamoDB models. No share is assigned per attribute: a population (`Population`: Zipf agencies,
locations, integrations and traffic, the largest location's share stated) is generated, each operation's
rate is spread over members sampled from it, and each member's keys are derived from the recorded ones
(the ids the recording met replaced by the member's, the due index's key by the code's due_bucket; any
other text stays as recorded: the same key for every member). Every key's read and write units per
second follow; counters and per-container cached reads by their leases (`lease_calls`). It prints per
table and index the load and its hottest key's share of a partition's limit (1,000 WCU/s, 3,000 RCU/s),
the emergency revoke-all time of the largest agency and the monthly cost; it fails if any key passes 50%.

Then it drives moto with the same operation mix at small scale and counts requests per table and index
with the same hooks: the counted distribution must match the model's.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import os
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.dynamodb_calls import DynamoDBCall, recording  # noqa: E402
from local.item_size import item_bytes  # noqa: E402

# `make scale`'s own account and stage, set by main() before anything reads settings (never at import:
# pytest imports this module to test the model, with the tests' environment).
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "capacity",
    "AWS_SECRET_ACCESS_KEY": "capacity",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "PI_STAGE": "capacity",
    "PI_SESSION_SECRET": "capacity-model-secret-0123456789abcdef",
}

PARTITION_WCU, PARTITION_RCU = 1000, 3000
LIMIT_SHARE = 0.50
WRITE_UNIT_BYTES, READ_UNIT_BYTES = 1024, 4096


@dataclass(frozen=True)
class Population:
    """Who makes the traffic: generated, not assumed per attribute. Agencies' traffic falls off as a Zipf
    law (rank^-s); so do their numbers of locations and, within an agency, its locations' traffic; the
    largest location is then given a stated share of all traffic. Integrations per location and per agency
    (agency-owned) are Zipf too, and an integration's traffic within its owner is Zipf over its rank."""

    s: float = 1.1
    agencies: int = 40_000
    largest_agency_locations: int = 2_000  # agency of rank a: max(1, round(this / a^s)) locations
    largest_location_share: float = 0.02  # of all v2 traffic
    largest_location_integrations: int = 200  # location of rank j in its agency: max(1, this / j^s)
    largest_agency_own_integrations: int = 500  # agency-owned: max(1, round(this / a^s))
    agency_token_share: float = 0.05  # v2 traffic by agency tokens on agency-level routes
    containers: int = 2_000  # warm Lambda containers serving v2 traffic (100,000 req/s at ~20 ms each)
    samples: int = 8_000  # generated members run through each recorded operation


@dataclass(frozen=True)
class Workload:
    tokens: int = 10_000_000
    integrations: int = 6_000_000
    owners: int = 400_000  # agencies and sub-accounts holding integrations
    authorizations_per_s: float = 100_000
    cache_ttl_s: int = 300
    cache_hit_rate: float = 0.90  # API Gateway's authorizer cache, at a TTL of 300 s
    tokens_used_per_5_min: int = 1_500_000  # distinct tokens seen in any 5 minutes (lastUsedAt writes)
    token_changes_per_s: float = 1_000
    reminder_days: int = 90
    backlog_hours: float = 4  # the cleanup catching up after an outage, within one run's budget
    cleanup_budget_s: int = 240
    cleanup_items_per_s_per_shard: float = 50  # one worker per shard, ~20 ms per item (read + transaction)
    # How token changes split (sums to 1).
    change_mix: tuple[tuple[str, float], ...] = (
        ("create", 0.10),
        ("rotate later", 0.35),
        ("rotate now", 0.10),
        ("cancel", 0.05),
        ("expire now", 0.10),
        ("edit", 0.20),
        ("delete", 0.10),
    )


# On-demand prices, us-east-1, as published after AWS's November 2024 DynamoDB price cut.
PRICE_PER_MILLION_WRU = 0.625
PRICE_PER_MILLION_RRU = 0.125
PRICE_PER_MILLION_LAMBDA_REQUESTS = 0.20
PRICE_PER_GB_SECOND = 0.0000166667
AUTHORIZER_GB_S_PER_CALL = 0.5 * 0.010  # 512 MB, ~10 ms warm
PRICE_PER_MILLION_API_CALLS = 3.50  # REST API, first tier
SECONDS_PER_MONTH = 30 * 24 * 3600


# --- recording what the code does --------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One unit of load on one partition key family: a table's or an index's key."""

    target: str  # "tokens" or "tokens/by-due"
    key_attribute: str
    key_value: str | None  # None: not known from the request (an index entry removed or rewritten)
    kind: str  # "read" | "write"
    units: float
    item_bytes: int = 0  # the item's size as DynamoDB counts it (recorded), 0 when no item
    # Counted once per container and window, or once per `cap` requests (a lease), instead of per request:
    # (window seconds, cap, requests a container admits unreserved); the model turns a key's request rate
    # into these calls (see `lease_calls`).
    amortized: tuple[float, float, int] | None = None


Snapshot = dict[str, dict[tuple[str | None, ...], dict[str, Any]]]  # table -> key -> raw item


def snapshot() -> Snapshot:
    """Every item of every table (moto, small): the images the recorded writes replaced and made. Read with
    a client of its own, so the recorder does not see it."""
    import boto3

    client = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    found: Snapshot = {}
    for table_name, info in SCHEMA.items():
        items: dict[tuple[str | None, ...], dict[str, Any]] = {}
        for page in client.get_paginator("scan").paginate(TableName=table_name):
            for item in page["Items"]:
                items[_key_of(info, item)] = item
        found[table_name] = items
    return found


def _key_of(info: dict[str, Any], item: dict[str, Any]) -> tuple[str | None, ...]:
    return tuple(_value(item.get(name)) for name in info["keys"])


def _load(
    calls: list[DynamoDBCall], before: Snapshot | None = None, after: Snapshot | None = None
) -> list[Access]:
    """The per-key load of the recorded requests; with the tables' images before and after them, item
    sizes and the index entries a write removes are measured (without: one unit each, unknown keys)."""
    return [
        access
        for call in calls
        for request in _requests(call.operation, call.params)
        for access in _accesses(*request, before, after)
    ]


def _requests(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(operation, params of one item operation, transactional) for every item a request touches."""
    if operation == "TransactWriteItems":
        for item in params["TransactItems"]:
            ((kind, inner),) = item.items()
            yield (
                {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}.get(
                    kind, "ConditionCheck"
                ),
                inner,
                True,
            )
    elif operation == "BatchGetItem":
        for table, request in params["RequestItems"].items():
            for key in request["Keys"]:
                yield "GetItem", {"TableName": table, "Key": key}, False
    elif operation == "BatchWriteItem":
        for table, writes in params["RequestItems"].items():
            for write in writes:
                ((kind, inner),) = write.items()
                item = inner.get("Item") or inner.get("Key")
                yield (
                    ("PutItem" if kind == "PutRequest" else "DeleteItem"),
                    {
                        "TableName": table,
                        "Item": item,
                        "Key": item,
                    },
                    False,
                )
    else:
        yield operation, params, False


def _schema() -> dict[str, Any]:
    """Per table: its hash key and its indexes' hash keys and projected attributes, from the models."""
    from chalicelib import tables

    found: dict[str, Any] = {}
    for model in tables.ALL_MODELS:
        schema = model._get_schema()
        hash_key = next(k["AttributeName"] for k in schema["key_schema"] if k["KeyType"] == "HASH")
        indexes = []
        for index in schema.get("global_secondary_indexes", []):
            hash_first = sorted(index["key_schema"], key=lambda key: key["KeyType"] != "HASH")
            keys = [k["AttributeName"] for k in hash_first]
            projection = index["projection"]
            projected = (
                None
                if projection["ProjectionType"] == "ALL"
                else set(keys) | set(projection.get("NonKeyAttributes", []))
            )
            indexes.append((index["index_name"], keys, projected))
        short = model.Meta.table_name.split("-", 2)[-1]
        keys = [
            k["AttributeName"] for k in sorted(schema["key_schema"], key=lambda k: k["KeyType"] != "HASH")
        ]
        found[model.Meta.table_name] = {"name": short, "hash": hash_key, "keys": keys, "indexes": indexes}
    return found


SCHEMA: dict[str, Any] = {}


def _written_names(params: dict[str, Any]) -> set[str]:
    """Attribute names an UpdateItem sets or removes (from its expression's name placeholders)."""
    names = params.get("ExpressionAttributeNames", {})
    expression = params.get("UpdateExpression", "")
    return {name for placeholder, name in names.items() if placeholder in expression}


def _value(attribute: dict[str, Any] | None) -> str | None:
    if not attribute:
        return None
    return str(next(iter(attribute.values())))


def _units(size: int, unit_bytes: int) -> int:
    return max(1, math.ceil(size / unit_bytes))


def _projected(
    image: dict[str, Any], info: dict[str, Any], keys: list[str], projected: set[str] | None
) -> int:
    if projected is None:
        return item_bytes(image)
    kept = projected | set(info["keys"]) | set(keys)
    return item_bytes({name: value for name, value in image.items() if name in kept})


def _accesses(
    operation: str,
    params: dict[str, Any],
    transactional: bool,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
) -> list[Access]:
    info = SCHEMA[params["TableName"]]
    measured = before is not None and after is not None
    old_items = (before or {}).get(params["TableName"], {})
    new_items = (after or {}).get(params["TableName"], {})
    factor = 2 if transactional else 1  # a transactional write or read costs twice
    if operation in ("GetItem", "ConditionCheck"):
        consistent = params.get("ConsistentRead", False) or operation == "ConditionCheck"
        size = item_bytes(old_items.get(_key_of(info, params["Key"]), {}))
        units = _units(size, READ_UNIT_BYTES) * (1.0 if consistent else 0.5) * factor
        key = _value(params["Key"].get(info["hash"]))
        return [Access(info["name"], info["hash"], key, "read", units, size)]
    if operation == "Query":
        target = info["name"]
        key_attribute = info["hash"]
        if params.get("IndexName"):
            target = f"{info['name']}/{params['IndexName']}"
            key_attribute = next(keys[0] for name, keys, _ in info["indexes"] if name == params["IndexName"])
        values = params.get("ExpressionAttributeValues", {})
        key = _value(values.get(":0"))
        size = sum(item_bytes(item) for item in old_items.values() if _value(item.get(key_attribute)) == key)
        units = _units(size, READ_UNIT_BYTES) * (1.0 if params.get("ConsistentRead") else 0.5)
        return [Access(target, key_attribute, key, "read", units, size)]
    # A write: the table's item, then every index whose key or projection the write touches.
    item = params.get("Item") or {}
    key_params = params.get("Key") or item
    key = _value(key_params.get(info["hash"]))
    old = old_items.get(_key_of(info, key_params))
    new = (
        None
        if operation == "DeleteItem"
        else (item if operation == "PutItem" else new_items.get(_key_of(info, key_params)))
    )
    size = max(item_bytes(old or {}), item_bytes(new or {}))
    units = _units(size, WRITE_UNIT_BYTES) if measured else 1
    found = [Access(info["name"], info["hash"], key, "write", 1.0 * factor * units, size)]
    written = set(item) if operation == "PutItem" else _written_names(params)
    for index_name, keys, projected in info["indexes"]:
        target = f"{info['name']}/{index_name}"
        if operation == "DeleteItem":
            touched = True  # the item may be in the index: its entry goes too
        else:
            touched = bool(written & set(keys)) or (
                bool(written) and (projected is None or bool(written & projected))
            )
            if operation == "PutItem":
                touched = touched or keys[0] in item
        if not touched:
            continue
        if measured:
            # The entry the write removes (the old image's key) and the one it makes (the new image's).
            entries: dict[str | None, int] = {}
            for image in (old, new):
                if image and keys[0] in image:
                    value = _value(image[keys[0]])
                    entries[value] = max(entries.get(value, 0), _projected(image, info, keys, projected))
            for value, entry_bytes in entries.items():
                found.append(
                    Access(
                        target, keys[0], value, "write", _units(entry_bytes, WRITE_UNIT_BYTES), entry_bytes
                    )
                )
            continue
        value = _value(item.get(keys[0])) if operation == "PutItem" else None
        if operation == "UpdateItem" and keys[0] in written:
            value = _value(
                next(
                    (
                        v
                        for placeholder, name in params.get("ExpressionAttributeNames", {}).items()
                        if name == keys[0]
                        for v in [_set_value(params, placeholder)]
                        if v is not None
                    ),
                    None,
                )
            )
        found.append(Access(target, keys[0], value, "write", 1.0))
    return found


def _set_value(params: dict[str, Any], placeholder: str) -> dict[str, Any] | None:
    """The value an UpdateItem SETs for a name placeholder (`#3 = :4`), if it sets one."""
    expression = params.get("UpdateExpression", "")
    marker = f"{placeholder} = "
    at = expression.find(marker)
    if at < 0:
        return None
    token = expression[at + len(marker) :].split(",")[0].split(" ")[0].strip()
    value = params.get("ExpressionAttributeValues", {}).get(token)
    return value if isinstance(value, dict) else None


# --- the world the operations run in -----------------------------------------------------------------


@contextmanager
def world() -> Iterator[Any]:
    from moto import mock_aws

    from local import seed
    from local.tables import create_tables

    with mock_aws():
        create_tables()
        seed.load_seed(ROOT / "seed" / "demo.json")
        SCHEMA.update(_schema())
        yield


class Operations:
    """Each operation as the service runs it (domain functions, the authorizer, the cleanup)."""

    ARN = "arn:aws:execute-api:us-east-1:123456789012:capacity01/api/GET/locations/loc-downtown"

    def __init__(self, clock_source: Callable[[], datetime]) -> None:
        from chalicelib.core.vocabulary import Owner, OwnerType
        from chalicelib.directory.models import UserModel

        self.admin = UserModel.get("user-admin")
        self.owners = [
            Owner(OwnerType.LOCATION, "loc-downtown", "agency-demo"),
            Owner(OwnerType.LOCATION, "loc-uptown", "agency-demo"),
        ]
        self.clock = clock_source
        self.live: list[tuple[str, str]] = []  # (integration id, current token)

    def create(self) -> tuple[str, str]:
        from chalicelib.integrations import service

        owner = random.choice(self.owners)
        view, token = service.create(
            self.admin, owner, {"name": "capacity", "scopes": ["locations.readonly"]}
        )
        self.live.append((view["id"], token))
        return view["id"], token

    def pick(self, name: str) -> str | None:
        """An integration in a state where `name` applies (reads made here are not the operation's)."""
        from chalicelib.integrations import access, views

        if name == "create":
            return ""
        wanted = {"cancel": True, "expire now": True, "rotate later": False}.get(name)
        for integration_id, _token in random.sample(self.live, len(self.live)):
            found = access.find(integration_id)
            if found is not None and (
                wanted is None or views.rotation_pending(found, self.clock()) == wanted
            ):
                return integration_id
        return None

    def run(self, name: str, integration_id: str) -> None:
        """One operation as the management API runs it: the access check, then the action."""
        from chalicelib.integrations import access, lifecycle, service

        if name == "create":
            self.create()
            return
        target = access.manageable(self.admin, integration_id)
        if name == "rotate later":
            lifecycle.rotate(self.admin, target, "later")
        elif name == "rotate now":
            lifecycle.rotate(self.admin, target, "now")
        elif name == "cancel":
            lifecycle.cancel(self.admin, target)
        elif name == "expire now":
            lifecycle.expire_now(self.admin, target)
        elif name == "edit":
            scopes = target.integration.scopes
            other = "locations.write" if target.integration.owner_type == "agency" else "contacts.readonly"
            new = ["locations.readonly"] if scopes != ["locations.readonly"] else [other]
            service.update(self.admin, target, {"scopes": new})
        elif name == "delete":
            service.delete(self.admin, target)
            self.live = [(i, t) for i, t in self.live if i != integration_id]


AGENCY_OWNED = " (agency-owned)"  # the variant of an operation on an agency's own integration
ENTITIES: dict[str, str] = {}  # every id the recording met -> its role (agency, location, ...)
REVOKE_ALL: dict[str, list[Access]] = {}  # "fixed": revoking none; "per integration": the rest, per one


def record_patterns() -> dict[str, list[Access]]:
    """The requests of one of each operation, as the code makes them, with the tables' images around
    them (item sizes, index entries removed); the ids they met are kept in ENTITIES."""
    from chalicelib.core import clock
    from chalicelib.core.vocabulary import Owner, OwnerType
    from chalicelib.directory.models import AgencyModel
    from chalicelib.integrations import access, cleanup, emergency, lifecycle

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    clock.set_source(lambda: now[0])
    random.seed(20261128)  # which integration each operation picks: the same patterns every run
    patterns: dict[str, list[Access]] = {}
    ENTITIES.clear()
    REVOKE_ALL.clear()
    images: list[Snapshot] = []

    def run(recorder: Any, action: Callable[[], Any]) -> tuple[list[Access], Any]:
        recorder.take()
        before = snapshot()
        result = action()
        after = snapshot()
        images.extend([before, after])
        return _load(recorder.take(), before, after), result

    try:
        with world():
            AgencyModel("agency-empty", name="Empty", labs_private_integrations=True).save()
            ops = Operations(lambda: now[0])
            agency_owner = Owner(OwnerType.AGENCY, "agency-demo", "agency-demo")
            for variant, owners in (("", ops.owners), (AGENCY_OWNED, [agency_owner])):
                ops.owners, ops.live = owners, []
                for _ in range(3):
                    ops.create()
                with recording() as recorder:
                    for name, _share in Workload().change_mix:
                        if name in ("cancel", "expire now"):
                            steady = ops.pick("rotate later")
                            assert steady is not None
                            lifecycle.rotate(ops.admin, access.manageable(ops.admin, steady), "later")
                        chosen = ops.pick(name)
                        assert chosen is not None, name
                        patterns[name + variant], _ = run(recorder, functools.partial(ops.run, name, chosen))
                    integration_id, token = ops.create()
                    accesses, _ = run(recorder, functools.partial(_authorize, token))
                    patterns["authorize" + variant] = [a for a in accesses if a.kind == "read"]
                    patterns["lastUsedAt write" + variant] = [a for a in accesses if a.kind == "write"]
                    owner = owners[0]
                    patterns["v2 request" + variant] = _v2_request(
                        run(recorder, functools.partial(_v2_check, integration_id, owner))
                    )
            ops.owners = ops.owners or [agency_owner]
            with recording() as recorder:
                # The cleanup: one finished rotation and one reminder, after their due times.
                ops.create()
                lifecycle.rotate(ops.admin, access.manageable(ops.admin, ops.live[-1][0]), "later")
                now[0] += timedelta(days=8)
                finishing, result = run(recorder, functools.partial(cleanup.run, parallel=False))
                patterns["cleanup: finish a rotation (per item)"] = _per_item(
                    finishing, result["rotationsCompleted"]
                )
                now[0] += timedelta(days=90)
                reminding, result = run(recorder, functools.partial(cleanup.run, parallel=False))
                patterns["cleanup: reminder (per item)"] = _per_item(
                    reminding, result["rotationRemindersSent"]
                )
                # The emergency revoke-all: of an agency with no integration (its fixed cost), then of one
                # with some (the rest, per integration revoked).
                fixed, _ = run(
                    recorder,
                    functools.partial(emergency.revoke_all, "user-admin", "agency-empty", "capacity"),
                )
                found, _ = emergency.agency_integrations("agency-demo")
                revoked = len(list(found))
                everything, _ = run(
                    recorder, functools.partial(emergency.revoke_all, "user-admin", "agency-demo", "capacity")
                )
                REVOKE_ALL["fixed"] = fixed
                REVOKE_ALL["per integration"] = _per_item(
                    _without(everything, fixed), revoked, keep_queries=True
                )
    finally:
        clock.reset()
    for image in images:
        for table_name, items in image.items():
            role = {"agencies": "agency", "locations": "location", "users": "user"}.get(
                SCHEMA[table_name]["name"]
            )
            for item in items.values():
                if role:
                    ENTITIES[_value(item["id"]) or ""] = role
                for name, found_role in (
                    ("integrationId", "integration"),
                    ("tokenHash", "token"),
                    ("previousTokenHash", "token"),
                ):
                    if name in item:
                        ENTITIES[_value(item[name]) or ""] = found_role
                if SCHEMA[table_name]["name"] == "integrations":
                    ENTITIES[_value(item["id"]) or ""] = "integration"
    ENTITIES.pop("", None)
    return patterns


def _authorize(token: str) -> None:
    from chalicelib.tokens import authorizer

    authorizer.authorize(f"Bearer {token}", Operations.ARN)


WINDOWS: dict[str, tuple[float, float, int]] = {}  # a counter's key -> (window s, lease cap, unreserved)


def _v2_check(integration_id: str, owner: Any) -> None:
    """One v2 request's rate-limit check, on a fresh container: the counters it reserves from and the
    reads it caches per container."""
    from chalicelib.integrations import rate_limits
    from chalicelib.ratelimit import Limiter, Window
    from chalicelib.tokens.context import TokenContext

    class Capturing(Limiter):
        def check(self, windows: list[Window]) -> Any:
            for window in windows:
                WINDOWS[window.key] = (window.length_ms / 1000, float(window.lease_cap), window.unreserved)
            # Recorded without unreserved admissions: the reservation's shape is what a lease costs.
            return super().check([window._replace(unreserved=0) for window in windows])

    saved = rate_limits.limiter
    rate_limits.limiter = Capturing()
    rate_limits._burst_limits.clear()
    rate_limits._location_agency.clear()
    try:
        # The token item carries the burst limit (0: the default): the authorizer's context passes it.
        token = TokenContext(integration_id, owner.type, owner.id, owner.agency_id, frozenset(), "current", 0)
        rate_limits.check(token, None)
    finally:
        rate_limits.limiter = saved


def _v2_request(recorded: tuple[list[Access], Any]) -> list[Access]:
    """A counter's reservation is made once per lease (`cap` requests) and once per container and window;
    a read the container caches (an integration's burst limit) once per container and its cache time."""
    from chalicelib.core import config

    cached = (float(config.settings.rate_limit_settings_seconds), math.inf, 0)
    return [replace(a, amortized=WINDOWS.get(a.key_value or "", cached)) for a in recorded[0]]


def _without(accesses: list[Access], fixed: list[Access]) -> list[Access]:
    """`accesses` less one of each access in `fixed` (same target, kind and recorded key)."""
    left = Counter((a.target, a.kind, a.key_value) for a in fixed)
    kept = []
    for access in accesses:
        mark = (access.target, access.kind, access.key_value)
        if left[mark] > 0:
            left[mark] -= 1
            continue
        kept.append(access)
    return kept


def _per_item(accesses: list[Access], items: int, keep_queries: bool = False) -> list[Access]:
    """One run's requests per item of its work. The cleanup's one query per shard is left out: 16
    queries every 15 minutes, whatever is due."""
    assert items > 0
    return [
        replace(a, units=a.units / items)
        for a in accesses
        if keep_queries or not (a.target.endswith("/by-due") and a.kind == "read")
    ]


# --- the population ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One generated integration: its agency, its location (None: agency-owned) and its id."""

    agency: str
    location: str | None
    integration: str


class Generated:
    """The population drawn from `Population`'s parameters: owners with traffic and integration counts."""

    def __init__(self, population: Population, seed: int = 20261128) -> None:
        self.population = population
        self.rng = random.Random(seed)
        s = population.s
        self.locations: list[tuple[int, int, int]] = []  # (agency rank, location rank, integrations)
        traffic: list[float] = []
        self.agency_integrations: list[int] = []
        agency_traffic: list[float] = []
        for a in range(population.agencies):
            weight = (a + 1) ** -s
            agency_traffic.append(weight)
            count = max(1, round(population.largest_agency_locations / (a + 1) ** s))
            spread = [(j + 1) ** -s for j in range(count)]
            total = sum(spread)
            for j, share in enumerate(spread):
                integrations = max(1, round(population.largest_location_integrations / (j + 1) ** s))
                self.locations.append((a, j, integrations))
                traffic.append(weight * share / total)
            self.agency_integrations.append(
                max(1, round(population.largest_agency_own_integrations / (a + 1) ** s))
            )
        rest = sum(traffic) - traffic[0]
        traffic[0] = population.largest_location_share / (1 - population.largest_location_share) * rest
        self.location_traffic = list(_cumulative(traffic))
        self.agency_traffic = list(_cumulative(agency_traffic))
        owners = [n for _, _, n in self.locations] + self.agency_integrations
        self.owner_integrations = list(_cumulative([float(n) for n in owners]))
        self.integrations = sum(owners)
        self.largest_location_traffic = traffic[0] / sum(traffic)
        self._zipf: dict[int, list[float]] = {}

    def _rank(self, count: int) -> int:
        """An integration of an owner with `count` of them, by its traffic (Zipf over their ranks)."""
        if count not in self._zipf:
            self._zipf[count] = list(_cumulative([(k + 1) ** -self.population.s for k in range(count)]))
        weights = self._zipf[count]
        return bisect.bisect_left(weights, self.rng.random() * weights[-1])

    def _location(self, index: int, k: int) -> Member:
        a, j, _ = self.locations[index]
        return Member(f"agency-{a}", f"loc-{a}-{j}", f"int-{a}-{j}-{k}")

    def _agency(self, a: int, k: int) -> Member:
        return Member(f"agency-{a}", None, f"int-{a}-a-{k}")

    def by_traffic(self) -> Member:
        """The integration behind a random v2 request (or authorization)."""
        if self.rng.random() < self.population.agency_token_share:
            a = bisect.bisect_left(self.agency_traffic, self.rng.random() * self.agency_traffic[-1])
            return self._agency(a, self._rank(self.agency_integrations[a]))
        index = bisect.bisect_left(self.location_traffic, self.rng.random() * self.location_traffic[-1])
        return self._location(index, self._rank(self.locations[index][2]))

    def by_integration(self) -> Member:
        """A random integration, each as likely (management changes, the cleanup's items)."""
        index = bisect.bisect_left(self.owner_integrations, self.rng.random() * self.owner_integrations[-1])
        if index < len(self.locations):
            return self._location(index, self.rng.randrange(self.locations[index][2]))
        a = index - len(self.locations)
        return self._agency(a, self.rng.randrange(self.agency_integrations[a]))

    def largest_agency(self) -> tuple[int, int]:
        """The largest agency's integrations, and its largest location's."""
        own = [n for a, _, n in self.locations if a == 0]
        return self.agency_integrations[0] + sum(own), max(own)


def _cumulative(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


@functools.cache
def generated(population: Population) -> Generated:
    return Generated(population)


# --- deriving each sampled member's keys ------------------------------------------------------------


def _template(access: Access) -> list[tuple[str, str | None]]:
    """The recorded key as parts: literal text, or an id of a role (agency, location, integration,
    token, user) that each member substitutes with its own; a due-index key as the code's due_bucket of
    the token. What is in no role stays literal: the same key for every member."""
    value = access.key_value or ""
    if access.target.endswith("/by-due") and value:
        return [("", "due")]
    if not ENTITIES or not value:
        return [(value, None)]
    pattern = re.compile("|".join(re.escape(v) for v in sorted(ENTITIES, key=len, reverse=True)))
    parts: list[tuple[str, str | None]] = []
    at = 0
    for match in pattern.finditer(value):
        parts.append((value[at : match.start()], None))
        parts.append((match.group(), ENTITIES[match.group()]))
        at = match.end()
    parts.append((value[at:], None))
    return parts


def _derive(parts: list[tuple[str, str | None]], member: Member) -> str:
    from chalicelib.tokens import models as token_model

    out = []
    for text, role in parts:
        if role is None:
            out.append(text)
        elif role == "agency":
            out.append(member.agency)
        elif role == "location":
            out.append(member.location or member.agency)
        elif role == "integration":
            out.append(member.integration)
        elif role == "user":
            out.append(f"user-of-{member.agency}")
        elif role == "token":
            out.append(hashlib.sha256(f"{member.integration}#{text}".encode()).hexdigest())
        elif role == "due":
            token = hashlib.sha256(f"{member.integration}#due".encode()).hexdigest()
            out.append(token_model.due_bucket(token))
    return "".join(out)


# --- the model ---------------------------------------------------------------------------------------


@functools.cache
def due_index_hottest_share() -> float:
    """How evenly the code's `due_bucket` spreads tokens: its busiest key's share over random tokens (the
    small-scale check's reference)."""
    from chalicelib.tokens import token_text
    from chalicelib.tokens.models import due_bucket

    spread = Counter(due_bucket(token_text.digest(token_text.generate())) for _ in range(20_000))
    return max(spread.values()) / sum(spread.values())


@dataclass
class Load:
    rcu: float = 0.0
    wcu: float = 0.0
    keys: dict[str, list[float]] = field(default_factory=dict)  # key -> [RCU/s, WCU/s]
    hottest: str = ""
    hottest_rcu: float = 0.0
    hottest_wcu: float = 0.0

    def share(self) -> float:
        return max(self.hottest_wcu / PARTITION_WCU, self.hottest_rcu / PARTITION_RCU)


def rates(workload: Workload) -> dict[str, float]:
    """Operations per second of the stated workload."""
    from chalicelib.tokens.models import DUE_SHARDS

    misses = workload.authorizations_per_s * (1 - workload.cache_hit_rate)
    per_token_interval = workload.tokens_used_per_5_min / 300
    reminders_per_s = workload.tokens / (workload.reminder_days * 86_400)
    rotations_ending = dict(workload.change_mix)["rotate later"] * workload.token_changes_per_s
    # After an outage the cleanup works the backlog off as fast as it can: every shard in parallel.
    due_per_s = rotations_ending + reminders_per_s
    backlog = due_per_s * workload.backlog_hours * 3600
    catch_up = min(backlog / workload.cleanup_budget_s, DUE_SHARDS * workload.cleanup_items_per_s_per_shard)
    backlog_factor = max(1.0, catch_up / due_per_s)
    found = {name: share * workload.token_changes_per_s for name, share in workload.change_mix}
    found["authorize"] = misses
    found["lastUsedAt write"] = min(misses, per_token_interval)
    found["v2 request"] = workload.authorizations_per_s
    found["cleanup: finish a rotation (per item)"] = rotations_ending * backlog_factor
    found["cleanup: reminder (per item)"] = reminders_per_s * backlog_factor
    return found


BY_TRAFFIC = ("authorize", "lastUsedAt write", "v2 request")


def model(
    patterns: dict[str, list[Access]], workload: Workload, population: Population = Population()
) -> dict[tuple[str, str], Load]:
    """Each operation's rate spread over `samples` generated members: each member's keys derived from
    the recorded ones, each key's read and write units per second summed, per table and index."""
    people = generated(population)
    people.rng.seed(20261128)
    templates = {
        name: [(access, _template(access)) for access in accesses] for name, accesses in patterns.items()
    }
    loads: dict[tuple[str, str], Load] = defaultdict(Load)
    amortized: dict[tuple[str, str, str, str, float, float, float, int], float] = defaultdict(float)
    n = population.samples
    for operation, rate in rates(workload).items():
        draw = people.by_traffic if operation in BY_TRAFFIC else people.by_integration
        for _ in range(n):
            member = draw()
            variant = operation + AGENCY_OWNED if member.location is None else operation
            for access, parts in templates.get(variant, templates[operation]):
                key = _derive(parts, member)
                if access.amortized is not None:
                    window, cap, free = access.amortized
                    amortized[
                        (
                            access.target,
                            access.key_attribute,
                            key,
                            access.kind,
                            access.units,
                            window,
                            cap,
                            free,
                        )
                    ] += rate / n
                    continue
                _add(loads[(access.target, access.key_attribute)], key, access.kind, rate / n * access.units)
    for (target, attribute, key, kind, units, window, cap, free), requests in amortized.items():
        _add(
            loads[(target, attribute)],
            key,
            kind,
            units * lease_calls(requests, window, cap, population.containers, free),
        )
    for load in loads.values():
        load.hottest, (load.hottest_rcu, load.hottest_wcu) = max(
            load.keys.items(), key=lambda item: max(item[1][0] / PARTITION_RCU, item[1][1] / PARTITION_WCU)
        )
    return dict(loads)


def lease_calls(
    requests_per_s: float, window_s: float, cap: float, containers: int, unreserved: int = 0
) -> float:
    """Calls per second to a counter (or a cached read) that `requests_per_s` make: one per `cap` requests
    (a full lease), plus one for each container that gets more than `unreserved` of the window's requests
    (Poisson per container: the requests spread evenly over the containers). Without leases it would be
    one per request."""
    in_window = requests_per_s * window_s
    each = in_window / containers
    at_most_unreserved = sum(math.exp(-each) * each**k / math.factorial(k) for k in range(unreserved + 1))
    reached = containers * (1 - at_most_unreserved)
    per_lease = 0.0 if math.isinf(cap) else in_window / cap
    return min(requests_per_s, (per_lease + reached) / window_s)


def _add(load: Load, key: str, kind: str, units: float) -> None:
    entry = load.keys.setdefault(key, [0.0, 0.0])
    if kind == "read":
        entry[0] += units
        load.rcu += units
    else:
        entry[1] += units
        load.wcu += units


def revoke_all_seconds(population: Population) -> tuple[float, int, str]:
    """How long an emergency revoke-all of the largest agency takes at the partition limits: per key, the
    units all its integrations' revocations put on it (an agency-keyed item takes every one, a location's
    its own), against 1,000 WCU/s (3,000 RCU/s) per key. Returns (seconds, integrations, busiest key)."""
    integrations, largest_location = generated(population).largest_agency()
    per_key: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for name, count in (("fixed", 1), ("per integration", integrations)):
        for access in REVOKE_ALL.get(name, []):
            roles = {role for _, role in _template(access) if role}
            if roles & {"integration", "token", "due"} and not access.target.endswith("/by-due"):
                times = 1  # each integration's own key
            elif "location" in roles:
                times = largest_location if name != "fixed" else 1
            else:
                times = count  # the agency's (or a constant) key: every revocation
            named = (
                access.target,
                "".join(text if role is None else f"<{role}>" for text, role in _template(access)),
            )
            per_key[named][0 if access.kind == "read" else 1] += access.units * times
    (target, key), (reads, writes) = max(
        per_key.items(), key=lambda item: max(item[1][0] / PARTITION_RCU, item[1][1] / PARTITION_WCU)
    )
    return max(reads / PARTITION_RCU, writes / PARTITION_WCU), integrations, f"{target} {key}"


def item_sizes(patterns: dict[str, list[Access]]) -> dict[str, int]:
    """The largest recorded item per table (index entries: their projected size)."""
    found: dict[str, int] = {}
    for accesses in patterns.values():
        for access in accesses:
            found[access.target] = max(found.get(access.target, 0), access.item_bytes)
    return found


def monthly_cost(patterns: dict[str, list[Access]], workload: Workload) -> dict[str, float]:
    """A month of the steady state (the cleanup's backlog rates are for catching up, not every second)."""
    steady = model(patterns, replace(workload, backlog_hours=0))
    rcu = sum(load.rcu for load in steady.values())
    wcu = sum(load.wcu for load in steady.values())
    misses = workload.authorizations_per_s * (1 - workload.cache_hit_rate)
    lambda_per_call = PRICE_PER_MILLION_LAMBDA_REQUESTS / 1e6 + AUTHORIZER_GB_S_PER_CALL * PRICE_PER_GB_SECOND
    return {
        "DynamoDB reads": rcu * SECONDS_PER_MONTH / 1e6 * PRICE_PER_MILLION_RRU,
        "DynamoDB writes": wcu * SECONDS_PER_MONTH / 1e6 * PRICE_PER_MILLION_WRU,
        "authorizer Lambda": misses * SECONDS_PER_MONTH * lambda_per_call,
        "API Gateway requests": workload.authorizations_per_s
        * SECONDS_PER_MONTH
        / 1e6
        * PRICE_PER_MILLION_API_CALLS,
    }


def print_model(
    patterns: dict[str, list[Access]], workload: Workload, population: Population = Population()
) -> float:
    """The table; returns the hottest key's share of a partition's limit."""
    loads = model(patterns, workload, population)
    people = generated(population)
    print(f"workload: {workload}")
    print(f"population: {population}")
    print(
        f"generated: {population.agencies:,} agencies, {len(people.locations):,} locations, "
        f"{people.integrations:,} integrations; the largest location carries "
        f"{people.largest_location_traffic:.1%} of v2 traffic; "
        f"{population.samples:,} members sampled per operation"
    )
    print()
    header = (
        f"{'table / index':<24} {'RCU/s':>9} {'WCU/s':>9}  {'hottest key':<44} "
        f"{'RCU/s':>8} {'WCU/s':>8} {'of limit':>8}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for (target, _attribute), load in sorted(loads.items(), key=lambda item: -(item[1].wcu + item[1].rcu)):
        worst = max(worst, load.share())
        key = load.hottest if len(load.hottest) <= 44 else load.hottest[:41] + "..."
        print(
            f"{target:<24} {load.rcu:>9,.0f} {load.wcu:>9,.0f}  {key:<44} {load.hottest_rcu:>8,.1f} "
            f"{load.hottest_wcu:>8,.1f} {load.share():>8.1%}"
        )
    print()
    counters = loads.get(("rate-limits", "key"))
    if counters:
        daily = max((k for k in counters.keys if k.startswith("d#")), key=lambda k: counters.keys[k][1])
        location_rate = population.largest_location_share * workload.authorizations_per_s
        print(
            f"the largest location's daily counter {daily}: {counters.keys[daily][1]:,.1f} WCU/s "
            f"({counters.keys[daily][1] / PARTITION_WCU:.1%} of a partition) for its "
            f"~{location_rate:,.0f} requests/s: leases of up to 100 requests, plus one per container and "
            f"window (one write per request would be {location_rate:,.0f} WCU/s)"
        )
    seconds, integrations, where = revoke_all_seconds(population)
    print(
        f"emergency revoke-all of the largest agency ({integrations:,} integrations): {seconds:,.1f} s at "
        f"the partition limits (busiest key: {where})"
    )
    sizes = ", ".join(f"{target} {size:,} B" for target, size in sorted(item_sizes(patterns).items()) if size)
    print(f"largest recorded items: {sizes}")
    print()
    costs = monthly_cost(patterns, workload)
    for item, dollars in costs.items():
        print(f"monthly {item}: ${dollars:,.0f}")
    print(f"monthly total: ${sum(costs.values()):,.0f}")
    print(
        f"prices: ${PRICE_PER_MILLION_WRU}/M write units, ${PRICE_PER_MILLION_RRU}/M read units "
        f"(DynamoDB on-demand, us-east-1), Lambda ${PRICE_PER_MILLION_LAMBDA_REQUESTS}/M requests + "
        f"${PRICE_PER_GB_SECOND}/GB-s, REST API ${PRICE_PER_MILLION_API_CALLS}/M requests"
    )
    return worst


# --- usage per integration (issue 27): how the access log reaches the aggregator, chosen by cost ---------

# Prices, us-east-1, as published (not fetched by this script): CloudWatch Logs ingestion (standard
# class; API Gateway's access log is billed as custom logs), and Amazon Data Firehose Direct PUT
# ingestion (API Gateway's access log is a Direct PUT source), tiered per GB a month, each record billed
# in 5 KB increments.
PRICE_PER_GB_CLOUDWATCH_LOGS = 0.50
FIREHOSE_TIERS_GB = ((500_000, 0.029), (1_500_000, 0.025), (3_000_000, 0.020), (math.inf, 0.015))
FIREHOSE_RECORD_BYTES = 5 * 1024
PRICE_PER_GB_MONTH_S3 = 0.023  # Firehose must deliver somewhere: the log kept in S3 (gzip, ~10x)
AGGREGATOR_MEMORY_GB = 0.125  # Chalice's default 128 MB
DYNAMODB_WRITE_MS = 10.0  # one UpdateItem, as the aggregator waits for it (assumed, not measured here)


@dataclass(frozen=True)
class UsagePipeline:
    """What one delivery of access-log lines to the aggregator costs, per transport."""

    lines_per_batch: int  # subscription: what CloudWatch Logs hands one invocation (assumed); Firehose:
    # its processor's 3 MB buffer (infra/operations.py) divided by the measured line size
    rotating_share: float = 0.05  # requests made by a rotating-out token (a second last-use write)


def access_log_line_bytes() -> int:
    """One access-log line as the stage writes it, with realistic values (measured, not assumed)."""
    from chalicelib.usage import access_log

    line = access_log.render(
        {
            "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "$context.extendedRequestId": "Rb3eXGj8IAMFvLA=",
            "$context.xrayTraceId": "Root=1-67891233-abcdef012345678912345678",
            "$context.requestTime": "15/Jan/2026:12:00:00 +0000",
            "$context.requestTimeEpoch": 1768478400000,
            "$context.identity.sourceIp": "203.0.113.200",
            "$context.identity.userAgent": "@gohighlevel/api-client/2.2.0 node/20.11.1 crm-sync/4.1",
            "$context.httpMethod": "GET",
            "$context.resourcePath": "/contacts/{contact_id}",
            "$context.status": 200,
            "$context.responseLength": 1536,
            "$context.responseLatency": 48,
            "$context.integrationLatency": 41,
            "$context.integrationStatus": 200,
            "$context.authorizer.status": 200,
            "$context.authorizer.latency": 0,
            "$context.authorizer.principalId": "5f0c6a2e9b8d4c1e7a3b2c1d",
            "$context.authorizer.integrationId": "5f0c6a2e9b8d4c1e7a3b2c1d",
            "$context.authorizer.tokenRole": "current",
            "$context.authorizer.outsideAllowlist": None,
            "$context.error.responseType": None,
        }
    )
    return len(line.encode()) + 1  # and its newline


def _firehose_dollars(gb: float) -> float:
    dollars, below = 0.0, 0.0
    for ceiling, price in FIREHOSE_TIERS_GB:
        dollars += max(0.0, min(gb, ceiling) - below) * price
        below = ceiling
        if gb <= ceiling:
            break
    return dollars


def usage_batch(pipeline: UsagePipeline, population: Population) -> tuple[int, int]:
    """(keys, writes) of one batch of lines drawn from the generated population's traffic, run through
    the aggregator against moto: keys are the batch's integration-hours (one counter write each), writes
    also count the summaries (written by an hour's first batch: here every key's)."""
    from chalicelib.usage import access_log, aggregator

    people = Generated(population, seed=27)
    lines = []
    for n in range(pipeline.lines_per_batch):
        member = people.by_traffic()
        role = "previous" if people.rng.random() < pipeline.rotating_share else "current"
        variables = {
            "$context.requestTimeEpoch": 1768478400000 + n,
            "$context.status": 200,
            "$context.authorizer.integrationId": member.integration,
            "$context.authorizer.tokenRole": role,
        }
        lines.append((access_log.render(variables), 0))
    with world():
        written = aggregator.apply(lines)
    return written["keys"], written["writes"]


def integrations_seen(population: Population, requests: float) -> float:
    """How many distinct integrations `requests` requests drawn from the population's traffic reach
    (expected value, summed over every generated integration: 1 - (1 - p)^n)."""
    people = generated(population)
    s = population.s
    location_share = 1 - population.agency_token_share
    totals = people.location_traffic[-1], people.agency_traffic[-1]
    seen = 0.0
    zipf_cache: dict[int, list[float]] = {}

    def within(count: int) -> list[float]:
        if count not in zipf_cache:
            weights = [(k + 1) ** -s for k in range(count)]
            total = sum(weights)
            zipf_cache[count] = [w / total for w in weights]
        return zipf_cache[count]

    previous = 0.0
    for (_, _, count), cumulative in zip(people.locations, people.location_traffic, strict=True):
        share = (cumulative - previous) / totals[0] * location_share
        previous = cumulative
        seen += sum(1 - math.exp(-requests * share * w) for w in within(count))
    previous = 0.0
    for count, cumulative in zip(people.agency_integrations, people.agency_traffic, strict=True):
        share = (cumulative - previous) / totals[1] * population.agency_token_share
        previous = cumulative
        seen += sum(1 - math.exp(-requests * share * w) for w in within(count))
    return seen


def usage_pipeline_costs(
    workload: Workload, population: Population = Population()
) -> dict[str, dict[str, float]]:
    """Monthly dollars of getting every request's line to the counters, per transport, at the workload's
    request rate. Both end in the same aggregator code: per batch one counter write per integration-hour
    in it (measured), plus one summary write per integration and hour it is active (the population's
    distinct integrations in an hour of traffic, with a second role's for rotating tokens)."""
    from chalicelib.usage import aggregator

    requests = workload.authorizations_per_s * SECONDS_PER_MONTH
    line = access_log_line_bytes()
    hourly = integrations_seen(population, workload.authorizations_per_s * 3600)
    summaries_per_s = hourly * (1 + UsagePipeline(1).rotating_share) / 3600
    found: dict[str, dict[str, float]] = {}
    for transport, pipeline in (
        ("CloudWatch Logs subscription -> Lambda", UsagePipeline(lines_per_batch=500)),
        ("Firehose (Lambda processor) -> S3", UsagePipeline(lines_per_batch=(3 << 20) // line)),
    ):
        keys, _ = usage_batch(pipeline, population)
        batches_per_s = workload.authorizations_per_s / pipeline.lines_per_batch
        writes_per_s = batches_per_s * keys + summaries_per_s
        per_batch = writes_per_s / batches_per_s
        seconds = per_batch / aggregator.WRITERS * DYNAMODB_WRITE_MS / 1000 + 0.05  # + parsing ~50 ms
        lambda_dollars = (batches_per_s * SECONDS_PER_MONTH) * (
            PRICE_PER_MILLION_LAMBDA_REQUESTS / 1e6 + seconds * AGGREGATOR_MEMORY_GB * PRICE_PER_GB_SECOND
        )
        costs = {
            "lines per batch": pipeline.lines_per_batch,
            "keys per batch (measured)": keys,
            "integrations per hour": hourly,
            "usage-table writes/s": writes_per_s,
            "aggregator concurrency": batches_per_s * seconds,
            "transport $": (
                requests * line / 1e9 * PRICE_PER_GB_CLOUDWATCH_LOGS
                if transport.startswith("CloudWatch")
                else _firehose_dollars(requests * FIREHOSE_RECORD_BYTES / 1e9)
                + requests * line / 1e9 / 10 * PRICE_PER_GB_MONTH_S3
            ),
            "aggregator Lambda $": lambda_dollars,
            "DynamoDB writes $": writes_per_s * SECONDS_PER_MONTH / 1e6 * PRICE_PER_MILLION_WRU,
        }
        costs["total $"] = costs["transport $"] + costs["aggregator Lambda $"] + costs["DynamoDB writes $"]
        found[transport] = costs
    return found


def print_usage_pipeline(workload: Workload, population: Population = Population()) -> None:
    line = access_log_line_bytes()
    rate = workload.authorizations_per_s
    print(f"usage per integration at {rate:,.0f} requests/s (access-log line {line} B):")
    for transport, costs in usage_pipeline_costs(workload, population).items():
        print(
            f"  {transport}: {costs['lines per batch']:,.0f} lines/batch, "
            f"{costs['keys per batch (measured)']:,.0f} integration-hours/batch (measured), "
            f"{costs['integrations per hour']:,.0f} integrations active per hour, "
            f"{costs['usage-table writes/s']:,.0f} writes/s, "
            f"concurrency {costs['aggregator concurrency']:,.1f}; "
            f"monthly: transport ${costs['transport $']:,.0f} + Lambda ${costs['aggregator Lambda $']:,.0f} "
            f"+ DynamoDB ${costs['DynamoDB writes $']:,.0f} = ${costs['total $']:,.0f}"
        )


# --- the small-scale check ---------------------------------------------------------------------------


def small_scale_check(patterns: dict[str, list[Access]], operations: int = 600) -> list[str]:
    """Run the change mix for real and compare per-target request shares and the due index's hottest
    shard with what the model predicts from the recorded patterns."""
    from chalicelib.core import clock

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    clock.set_source(lambda: now[0])
    mix = Workload().change_mix
    random.seed(20261128)
    counted: Counter[str] = Counter()
    due_keys: Counter[str] = Counter()
    try:
        with world():
            ops = Operations(lambda: now[0])
            for _ in range(20):
                ops.create()
            with recording() as recorder:
                names = [name for name, _ in mix]
                weights = [share for _, share in mix]
                done: Counter[str] = Counter()
                while sum(done.values()) < operations:
                    name = random.choices(names, weights)[0]
                    chosen = ops.pick(name)
                    if chosen is None:
                        continue
                    recorder.take()
                    ops.run(name, chosen)
                    done[name] += 1
                    for access in _load(recorder.take()):
                        counted[f"{access.target} {access.kind}"] += 1
                        if access.target == "tokens/by-due" and access.key_value:
                            due_keys[access.key_value] += 1
    finally:
        clock.reset()
    predicted: Counter[str] = Counter()
    for name, count in done.items():
        for access in patterns[name]:
            predicted[f"{access.target} {access.kind}"] += count
    problems = []
    total_counted, total_predicted = sum(counted.values()), sum(predicted.values())
    print()
    print(f"small-scale check: {sum(done.values())} operations ({dict(done)})")
    print(f"{'target':<34} {'counted share':>14} {'model share':>12}")
    for target in sorted(set(counted) | set(predicted)):
        got, want = counted[target] / total_counted, predicted[target] / total_predicted
        print(f"{target:<34} {got:>14.3f} {want:>12.3f}")
        if abs(got - want) > max(0.02, 0.25 * want):
            problems.append(f"{target}: counted {got:.3f}, model {want:.3f}")
    if due_keys:
        hottest = max(due_keys.values()) / sum(due_keys.values())
        expected = due_index_hottest_share()
        print(f"due index: {len(due_keys)} keys written, hottest {hottest:.3f} (model {expected:.3f})")
        # A few hundred writes over 16 keys: allow sampling noise, not a single hot key.
        if hottest > 3 * expected:
            problems.append(f"due index hottest key {hottest:.3f} against {expected:.3f}")
    return problems


def hottest(
    patterns: dict[str, list[Access]], workload: Workload, population: Population = Population()
) -> tuple[float, str]:
    """The busiest single key's share of a partition's limit, and which key of which table it is."""
    worst, where = 0.0, ""
    for (target, _attribute), load in model(patterns, workload, population).items():
        if load.share() > worst:
            worst, where = load.share(), f"{target} {load.hottest}"
    return worst, where


def breaking_point(worst: float, where: str, workload: Workload) -> None:
    """Every rate grown together: the load is about proportional to them (leases only make counters
    grow slower), so the hottest key reaches a partition's limit at about 1/its share."""
    factor = 1 / worst
    print(
        f"breaks first: {where} reaches a partition's limit at about {factor:.1f}x the stated workload "
        f"({workload.token_changes_per_s * factor:,.0f} token changes/s, "
        f"{workload.authorizations_per_s * factor:,.0f} requests/s)"
    )


def main() -> int:
    os.environ.update(ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    workload = Workload()
    patterns = record_patterns()
    worst = print_model(patterns, workload)
    print()
    print_usage_pipeline(workload)
    breaking_point(*hottest(patterns, workload), workload)
    problems = small_scale_check(patterns)
    print()
    print(f"hottest key: {worst:.1%} of a partition's limit (allowed: {LIMIT_SHARE:.0%})")
    if worst > LIMIT_SHARE:
        problems.append(f"a key takes {worst:.1%} of a partition's limit")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
