"""`make scale`: a capacity model of the DynamoDB access patterns at internet scale, checked at small scale.

The access patterns are not written here: every operation (authorize, create, rotate, ..., the cleanup's
work) is run once against moto and its DynamoDB requests are recorded with botocore event hooks. Which
index a write touches comes from the PynamoDB models (index keys and projections), so a new index or a
new attribute written shows up here by itself. The workload (rates, populations, skew) and the prices
are stated below. Per access pattern and per partition key family it prints read and write units per
second, the hottest single key's load as a share of a partition's limit (1,000 WCU/s, 3,000 RCU/s), and
the monthly cost; it fails if any key passes 50%.

Then it drives moto with the same operation mix at small scale and counts requests per table, index and
partition key with botocore hooks: the counted distribution must match the model's.
"""

from __future__ import annotations

import functools
import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.dynamodb_calls import DynamoDBCall, recording  # noqa: E402

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
ITEM_KB = 1.0  # every item here is well under 1 KB: 1 WCU per write, 4 items per RCU


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
    # The largest owner's share of all token changes (one agency automating its rotations).
    largest_owner_share: float = 0.01
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


def _load(calls: list[DynamoDBCall]) -> list[Access]:
    """The per-key load of the recorded requests."""
    return [
        access
        for call in calls
        for request in _requests(call.operation, call.params)
        for access in _accesses(*request)
    ]


def _requests(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(operation, params of one item operation, transactional) for every item a request touches."""
    if operation == "TransactWriteItems":
        for item in params["TransactItems"]:
            ((kind, inner),) = item.items()
            yield {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}.get(
                kind, "ConditionCheck"
            ), inner, True
    elif operation == "BatchGetItem":
        for table, request in params["RequestItems"].items():
            for key in request["Keys"]:
                yield "GetItem", {"TableName": table, "Key": key}, False
    elif operation == "BatchWriteItem":
        for table, writes in params["RequestItems"].items():
            for write in writes:
                ((kind, inner),) = write.items()
                item = inner.get("Item") or inner.get("Key")
                yield ("PutItem" if kind == "PutRequest" else "DeleteItem"), {
                    "TableName": table,
                    "Item": item,
                    "Key": item,
                }, False
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
        found[model.Meta.table_name] = {"name": short, "hash": hash_key, "indexes": indexes}
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


def _accesses(operation: str, params: dict[str, Any], transactional: bool) -> list[Access]:
    table = SCHEMA[params["TableName"]]
    factor = 2 if transactional else 1  # a transactional write or read costs twice
    if operation in ("GetItem", "ConditionCheck"):
        consistent = params.get("ConsistentRead", False) or operation == "ConditionCheck"
        units = (1.0 if consistent else 0.5) * factor
        key = _value(params["Key"].get(table["hash"]))
        return [Access(table["name"], table["hash"], key, "read", units)]
    if operation == "Query":
        target = table["name"]
        key_attribute = table["hash"]
        if params.get("IndexName"):
            target = f"{table['name']}/{params['IndexName']}"
            key_attribute = next(keys[0] for name, keys, _ in table["indexes"] if name == params["IndexName"])
        values = params.get("ExpressionAttributeValues", {})
        key = _value(values.get(":0"))
        units = 1.0 if params.get("ConsistentRead") else 0.5
        return [Access(target, key_attribute, key, "read", units)]
    # A write: the table's item, then every index whose key or projection the write touches.
    item = params.get("Item") or {}
    key = _value((params.get("Key") or item).get(table["hash"]))
    found = [Access(table["name"], table["hash"], key, "write", 1.0 * factor * ITEM_KB)]
    written = set(item) if operation == "PutItem" else _written_names(params)
    for index_name, keys, projected in table["indexes"]:
        target = f"{table['name']}/{index_name}"
        if operation == "DeleteItem":
            touched = True  # the item may be in the index: its entry goes too
        else:
            touched = bool(written & set(keys)) or (
                bool(written) and (projected is None or bool(written & projected))
            )
            if operation == "PutItem":
                touched = keys[0] in item
        if touched:
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
            found.append(Access(target, keys[0], value, "write", 1.0 * ITEM_KB))
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
            new = ["locations.readonly"] if scopes != ["locations.readonly"] else ["contacts.readonly"]
            service.update(self.admin, target, {"scopes": new})
        elif name == "delete":
            service.delete(self.admin, target)
            self.live = [(i, t) for i, t in self.live if i != integration_id]


def record_patterns() -> dict[str, list[Access]]:
    """The requests of one of each operation, as the code makes them."""
    from chalicelib.core import clock
    from chalicelib.integrations import access, cleanup, lifecycle
    from chalicelib.tokens import authorizer

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    clock.set_source(lambda: now[0])
    random.seed(20261128)  # which integration each operation picks: the same patterns every run
    patterns: dict[str, list[Access]] = {}
    try:
        with world():
            ops = Operations(lambda: now[0])
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
                    recorder.take()
                    ops.run(name, chosen)
                    patterns[name] = _load(recorder.take())
                _, token = ops.create()
                recorder.take()
                authorizer.authorize(f"Bearer {token}", Operations.ARN)
                accesses = _load(recorder.take())
                patterns["authorize"] = [a for a in accesses if a.kind == "read"]
                patterns["lastUsedAt write"] = [a for a in accesses if a.kind == "write"]
                # The cleanup: one finished rotation and one reminder, after their due times.
                ops.create()
                lifecycle.rotate(ops.admin, access.manageable(ops.admin, ops.live[-1][0]), "later")
                now[0] += timedelta(days=8)
                recorder.take()
                finished = cleanup.run(parallel=False)["rotationsCompleted"]
                finishing = _load(recorder.take())
                patterns["cleanup: finish a rotation (per item)"] = _per_item(finishing, finished)
                now[0] += timedelta(days=90)
                recorder.take()
                reminded = cleanup.run(parallel=False)["rotationRemindersSent"]
                patterns["cleanup: reminder (per item)"] = _per_item(_load(recorder.take()), reminded)
    finally:
        clock.reset()
    return patterns


def _per_item(accesses: list[Access], items: int) -> list[Access]:
    """One cleanup run's requests per item of its work. The run's one query per shard is left out: 16
    queries every 15 minutes, whatever is due."""
    assert items > 0
    return [
        Access(a.target, a.key_attribute, a.key_value, a.kind, a.units / items)
        for a in accesses
        if not (a.target.endswith("/by-due") and a.kind == "read")
    ]


# --- the model ---------------------------------------------------------------------------------------


@functools.cache
def due_index_hottest_share() -> float:
    """How evenly the code's `due_bucket` spreads tokens: its busiest key's share over random tokens."""
    from chalicelib.tokens import token_text
    from chalicelib.tokens.models import due_bucket

    spread = Counter(due_bucket(token_text.digest(token_text.generate())) for _ in range(20_000))
    return max(spread.values()) / sum(spread.values())


def hottest_share(key_attribute: str, target: str, workload: Workload) -> float:
    """The share of one key family's traffic that its busiest single key takes."""
    if key_attribute == "dueBucket":
        return due_index_hottest_share()
    if key_attribute in ("ownerKey",) or target in ("agencies", "locations"):
        return workload.largest_owner_share
    if key_attribute == "tokenHash":
        return 1 / workload.tokens
    if key_attribute in ("id", "integrationId"):
        return 1 / workload.integrations
    return workload.largest_owner_share  # users and anything else: as skewed as the busiest owner


@dataclass
class Load:
    rcu: float = 0.0
    wcu: float = 0.0
    hottest_rcu: float = 0.0
    hottest_wcu: float = 0.0


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
    found["cleanup: finish a rotation (per item)"] = rotations_ending * backlog_factor
    found["cleanup: reminder (per item)"] = reminders_per_s * backlog_factor
    return found


def model(patterns: dict[str, list[Access]], workload: Workload) -> dict[tuple[str, str], Load]:
    loads: dict[tuple[str, str], Load] = defaultdict(Load)
    for operation, rate in rates(workload).items():
        for access in patterns[operation]:
            load = loads[(access.target, access.key_attribute)]
            share = hottest_share(access.key_attribute, access.target, workload)
            if access.kind == "read":
                load.rcu += rate * access.units
                load.hottest_rcu += rate * access.units * share
            else:
                load.wcu += rate * access.units
                load.hottest_wcu += rate * access.units * share
    # Each cleanup run reads every shard once, whatever is due (every 15 minutes; negligible).
    return dict(loads)


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


def print_model(patterns: dict[str, list[Access]], workload: Workload) -> float:
    """The table; returns the hottest key's share of a partition's limit."""
    loads = model(patterns, workload)
    print(f"workload: {workload}")
    print()
    header = (
        f"{'table / index':<32} {'key':<16} {'RCU/s':>12} {'WCU/s':>12} {'hottest key':>16} {'of limit':>9}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for (target, key), load in sorted(loads.items(), key=lambda item: -(item[1].wcu + item[1].rcu)):
        share = max(load.hottest_wcu / PARTITION_WCU, load.hottest_rcu / PARTITION_RCU)
        worst = max(worst, share)
        hottest = f"{load.hottest_wcu:,.1f} W {load.hottest_rcu:,.1f} R"
        print(f"{target:<32} {key:<16} {load.rcu:>12,.0f} {load.wcu:>12,.0f} {hottest:>16} {share:>8.1%}")
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
        expected = hottest_share("dueBucket", "tokens/by-due", Workload())
        print(f"due index: {len(due_keys)} keys written, hottest {hottest:.3f} (model {expected:.3f})")
        # A few hundred writes over 16 keys: allow sampling noise, not a single hot key.
        if hottest > 3 * expected:
            problems.append(f"due index hottest key {hottest:.3f} against {expected:.3f}")
    return problems


def hottest(patterns: dict[str, list[Access]], workload: Workload) -> tuple[float, str]:
    """The busiest single key's share of a partition's limit, and which key family it is."""
    worst, where = 0.0, ""
    for (target, key), load in model(patterns, workload).items():
        share = max(load.hottest_wcu / PARTITION_WCU, load.hottest_rcu / PARTITION_RCU)
        if share > worst:
            worst, where = share, f"{target} ({key})"
    return worst, where


def breaking_point(patterns: dict[str, list[Access]], workload: Workload) -> None:
    """Grow every rate and population together until one key reaches a partition's limit."""
    factor = 1.0
    while factor < 1000:
        grown = replace(
            workload,
            tokens=int(workload.tokens * factor),
            integrations=int(workload.integrations * factor),
            authorizations_per_s=workload.authorizations_per_s * factor,
            tokens_used_per_5_min=int(workload.tokens_used_per_5_min * factor),
            token_changes_per_s=workload.token_changes_per_s * factor,
        )
        share, where = hottest(patterns, grown)
        if share >= 1:
            print(
                f"breaks first: {where} reaches a partition's limit at {factor:.1f}x the stated workload "
                f"({grown.token_changes_per_s:,.0f} token changes/s, {grown.authorizations_per_s:,.0f} "
                "authorizations/s)"
            )
            return
        factor *= 1.1
    print("nothing reaches a partition's limit below 1000x the stated workload")


def main() -> int:
    os.environ.update(ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    workload = Workload()
    patterns = record_patterns()
    worst = print_model(patterns, workload)
    breaking_point(patterns, workload)
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
