"""`make bench`: the authorizer's cost against the embedded moto server, printed as `name: value` lines.

Requests are counted with botocore event hooks (not by reading code); times are medians of interleaved
runs so that a noisy machine affects both sides of a ratio alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # metric lines would interleave with ours

from local.dynamodb import start_embedded_dynamodb  # noqa: E402
from local.dynamodb_calls import READS, WRITES, recording  # noqa: E402

ARN = "arn:aws:execute-api:us-east-1:123456789012:benchapi01/api/GET/contacts/x1"


def _import_us(statement: str, env: dict[str, str]) -> int:
    """Wall time (µs) of `statement` in a fresh interpreter, measured inside it: what a cold start pays.

    Not `-X importtime`'s per-module sums: they attribute time to whichever module happens to be
    importing (seen here: the same urllib3 module 6 ms under one parent, 25 ms under another, with equal
    wall times)."""
    code = f"import time; started = time.perf_counter(); {statement}; print(time.perf_counter() - started)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(float(result.stdout.strip().splitlines()[-1]) * 1_000_000)


def import_times(
    statement: str, baseline: str, runs: int = 21, bytecode: bool = False
) -> tuple[float, float]:
    """Medians of interleaved runs, so that machine noise hits both sides alike.

    By default the project's modules are compiled from source at each import (this machine sets
    PYTHONDONTWRITEBYTECODE, and Lambda's python3.12 finds no bytecode for them in a zip built here),
    while the baseline's site-packages load bytecode: the conservative comparison. With `bytecode`,
    both sides load bytecode from one private cache, warmed once: like for like."""
    env: dict[str, str] = {}
    if bytecode:
        cache = tempfile.mkdtemp(prefix="pycache-")
        env = {"PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": ""}
        _import_us(f"{statement}; {baseline}", env)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(_import_us(statement, env))
        theirs.append(_import_us(baseline, env))
    return statistics.median(ours), statistics.median(theirs)


def cleanup_items_read() -> None:
    """10,000 tokens of which 10 are due: the scheduled job must read in proportion to the 10."""
    from chalicelib.core import clock
    from chalicelib.core.vocabulary import Owner, OwnerType, TokenState
    from chalicelib.directory.models import UserModel
    from chalicelib.integrations import access, cleanup, lifecycle, service
    from chalicelib.tokens import token_text
    from chalicelib.tokens.models import TokenModel, due_bucket, rotation_recommended_at

    admin = UserModel.get("user-admin")
    owner = Owner(OwnerType.LOCATION, "loc-uptown", "agency-demo")
    start = datetime.now(UTC)
    now = clock.ManualClock(start)
    clock.set_source(now)
    due = 10
    for n in range(due):
        view, _ = service.create(admin, owner, {"name": f"due {n}", "scopes": ["contacts.readonly"]})
        target = access.manageable(admin, view["id"])
        lifecycle.rotate(admin, target, "later")  # 2 tokens each: the rotating one becomes due
    existing = TokenModel.count()
    with TokenModel.batch_write() as batch:
        for n in range(10_000 - existing):
            plaintext = token_text.generate()
            token_hash = token_text.digest(plaintext)
            batch.save(
                TokenModel(
                    token_hash,
                    integration_id=f"filler{n}",
                    owner_type=OwnerType.LOCATION,
                    owner_id="loc-uptown",
                    agency_id="agency-demo",
                    scopes=["contacts.readonly"],
                    state=TokenState.ACTIVE,
                    hint=token_text.hint(plaintext),
                    created_at=start,
                    due_bucket=due_bucket(token_hash),
                    due_at=clock.epoch(rotation_recommended_at(start)),
                )
            )
    now.current = start + timedelta(days=8)  # past the overlap, long before any 90-day reminder
    items = {"read": 0}

    def count_items(parsed: dict[str, Any], **kwargs: Any) -> None:
        operation = kwargs["event_name"].rsplit(".", 1)[-1]
        if operation in ("Query", "Scan"):
            items["read"] += int(parsed.get("Count", 0))
        elif operation == "GetItem":
            items["read"] += 1 if parsed.get("Item") else 0
        elif operation == "BatchGetItem":
            items["read"] += sum(len(v) for v in parsed.get("Responses", {}).values())

    clients = {
        id(m._get_connection().connection.client): m._get_connection().connection.client for m in models_all()
    }
    for client in clients.values():
        client.meta.events.register("after-call.dynamodb", count_items)
    in_table = TokenModel.count()
    summary = cleanup.run()
    for client in clients.values():
        client.meta.events.unregister("after-call.dynamodb", count_items)
    clock.reset()
    print(f"cleanup_tokens_in_table: {in_table}")
    print(f"cleanup_rotations_completed: {summary['rotationsCompleted']}")
    print(f"cleanup_items_read_10000_tokens_10_due: {items['read']}")


FIRST_CALL_OURS = """
import time; started, cpu = time.perf_counter(), time.process_time()
import importlib
module, _, name = {handler!r}.rpartition(".")
handler = getattr(importlib.import_module(module), name)
handler({{"type": "TOKEN", "authorizationToken": "Bearer {token}", "methodArn": {arn!r}}}, None)
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
"""
# What a user would write instead: boto3, one GetItem, no policy.
FIRST_CALL_BOTO3 = """
import time; started, cpu = time.perf_counter(), time.process_time()
import boto3
key = {{"tokenHash": {{"S": {digest!r}}}}}
boto3.client("dynamodb").get_item(TableName={table!r}, Key=key, ConsistentRead=True)
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
"""
SCOPE_COUNTS = (5, 10, 20, 30, 45, 60)


def deployed_env() -> dict[str, str]:
    """As deployed: the authorizer's EMF metric lines on (this bench's own process turns them off)."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_METRICS_DISABLED"}
    env["PI_LAST_USED_INTERVAL_SECONDS"] = "999999999"  # one read on both sides, no lastUsedAt write
    return env


def _run_ms(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of `code`'s work in a fresh interpreter, as it prints them last."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    wall, cpu = result.stdout.strip().splitlines()[-1].split()  # after the EMF line
    return float(wall), float(cpu)


def cold_first_authorizations(cases: list[tuple[str, str]], runs: int = 9) -> None:
    """Per token: a fresh process imports the template's Handler and authorizes once, against a
    hand-written boto3 authorizer's floor (import, client, one GetItem of the same item), interleaved
    case by case; medians. Goal: the worst ratio <= 1.00. Wall time is what a caller waits on a quiet
    machine; CPU time is the same work without the other processes of a shared machine (on Lambda the
    function has its share of a core to itself), so it is the figure that holds run to run here."""
    from chalicelib.tokens import token_text
    from chalicelib.tokens.models import TokenModel
    from infra.build import AUTHORIZER_HANDLER

    env = deployed_env()
    ours: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in cases}
    floor: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in cases}
    table = TokenModel.Meta.table_name
    for _ in range(runs):
        for label, token in cases:
            cold = FIRST_CALL_OURS.format(handler=AUTHORIZER_HANDLER, token=token, arn=ARN)
            ours[label].append(_run_ms(cold, env))
            hand_written = FIRST_CALL_BOTO3.format(table=table, digest=token_text.digest(token))
            floor[label].append(_run_ms(hand_written, env))
    worst = {"wall": 0.0, "cpu": 0.0}
    for label, _ in cases:
        for i, kind in enumerate(worst):
            mine = statistics.median(run[i] for run in ours[label])
            theirs = statistics.median(run[i] for run in floor[label])
            ratio = mine / theirs
            worst[kind] = max(worst[kind], ratio)
            print(f"cold_first_auth_{kind}_{label}: {mine:.1f} ms / floor {theirs:.1f} ms = {ratio:.3f}")
    print(f"cold_first_auth_ratio_worst_cpu: {worst['cpu']:.3f}  # goal <= 1.00")
    print(f"cold_first_auth_ratio_worst_wall: {worst['wall']:.3f}")


def cold_cases(admin: Any) -> list[tuple[str, str]]:
    """Location tokens holding 5 .. 60 random scopes, and every scope at both levels."""
    import random

    from chalicelib.core.vocabulary import Owner, OwnerType
    from chalicelib.integrations import service
    from chalicelib.tokens import catalog

    levels = catalog.scope_levels()
    location_scopes = sorted(s for s, found in levels.items() if OwnerType.LOCATION in found)
    agency_scopes = sorted(s for s, found in levels.items() if OwnerType.AGENCY in found)
    chosen = random.Random(21)
    location = Owner(OwnerType.LOCATION, "loc-downtown", "agency-demo")
    agency = Owner(OwnerType.AGENCY, "agency-demo", "agency-demo")
    wanted = [(f"location_{n}_scopes", location, chosen.sample(location_scopes, n)) for n in SCOPE_COUNTS]
    wanted.append(("location_all_scopes", location, location_scopes))
    wanted.append(("agency_all_scopes", agency, agency_scopes))
    cases = []
    for label, owner, scopes in wanted:
        _, token = service.create(admin, owner, {"name": label, "scopes": scopes})
        cases.append((label, token))
    return cases


def write_path_planning(admin: Any) -> None:
    """Planning moved to the write path: a create and an edit with every scope, planner caches cold."""
    from chalicelib.core.vocabulary import Owner, OwnerType
    from chalicelib.integrations import access, service
    from chalicelib.tokens import catalog, policy, token_text
    from chalicelib.tokens.models import TokenModel
    from local.item_size import item_bytes, read_units

    levels = catalog.scope_levels()
    for level, owner in (
        (OwnerType.LOCATION, Owner(OwnerType.LOCATION, "loc-uptown", "agency-demo")),
        (OwnerType.AGENCY, Owner(OwnerType.AGENCY, "agency-demo", "agency-demo")),
    ):
        every = sorted(s for s, found in levels.items() if level in found)
        policy.plan.cache_clear()
        policy.globs.cache_clear()
        started = time.perf_counter()
        view, token = service.create(admin, owner, {"name": f"all {level}", "scopes": every})
        created_ms = (time.perf_counter() - started) * 1000
        policy.plan.cache_clear()
        policy.globs.cache_clear()
        target = access.manageable(admin, view["id"])
        started = time.perf_counter()
        service.update(admin, target, {"scopes": every[: len(every) // 2]})
        edited_ms = (time.perf_counter() - started) * 1000
        service.update(admin, access.manageable(admin, view["id"]), {"scopes": every})
        raw = TokenModel.get(token_text.digest(token)).serialize()
        print(f"create_ms_all_scopes_{level}: {created_ms:.0f}  # plans the policy (caches cold)")
        print(f"edit_ms_all_scopes_{level}: {edited_ms:.0f}")
        stored = len(raw["policy"]["B"])
        print(f"token_item_bytes_all_scopes_{level}: {item_bytes(raw)}  # the stored policy: {stored} B")
        print(f"read_units_per_authorization_all_scopes_{level}: {read_units(raw)}")


def allowlist_cost(admin: Any, owner: Any) -> None:
    """Issue 28: what the IP allowlist adds to an authorization (the longest list: 50 IPv6 blocks, the
    caller outside it in report mode, so the whole path runs), and the largest token item with it."""
    from chalicelib.integrations import service
    from chalicelib.tokens import address_match, allowlist, authorizer, catalog, token_text
    from chalicelib.tokens.models import TokenModel
    from local.item_size import item_bytes, read_units

    widest = [f"2001:db8:{n:x}:{n:x}::/64" for n in range(allowlist.MAX_ENTRIES)]
    packed = allowlist.pack(allowlist.REPORT, widest)
    assert packed is not None
    outsider = "2001:db9::1"
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        address_match.outside(address_match.unpack(packed), outsider)
    print(f"allowlist_check_us_50_ipv6: {(time.perf_counter() - started) / rounds * 1e6:.2f}")
    scopes = ["contacts.readonly", "contacts.write", "locations.readonly"]
    _, plain = service.create(admin, owner, {"name": "bench plain", "scopes": scopes})
    _, listed = service.create(
        admin, owner, {"name": "bench 50", "scopes": scopes, "allowedIps": widest, "ipRestriction": "report"}
    )
    for token in (plain, listed):
        authorizer.authorize("Bearer " + token, ARN, outsider)  # warm; lastUsedAt fresh from here on
    plain_times, listed_times = [], []
    for _ in range(400):
        t0 = time.perf_counter()
        authorizer.authorize("Bearer " + plain, ARN, outsider)
        t1 = time.perf_counter()
        authorizer.authorize("Bearer " + listed, ARN, outsider)
        t2 = time.perf_counter()
        plain_times.append(t1 - t0)
        listed_times.append(t2 - t1)
    plain_ms, listed_ms = statistics.median(plain_times), statistics.median(listed_times)
    without = f"# without a list {plain_ms * 1000:.3f}"
    print(f"authorizer_median_ms_allowlist_50_ipv6: {listed_ms * 1000:.3f}  {without}")
    print(f"authorizer_allowlist_ratio: {listed_ms / plain_ms:.3f}")
    every = sorted(s for s, levels in catalog.scope_levels().items() if "location" in levels)
    hosts = [f"2001:db8::{n:x}" for n in range(allowlist.MAX_ENTRIES)]
    for label, entries in (("50_ipv6_64", widest), ("50_ipv6_128", hosts)):
        biggest = {"name": f"bench largest {label}", "scopes": every, "allowedIps": entries}
        _, largest = service.create(admin, owner, biggest)
        raw = TokenModel.get(token_text.digest(largest)).serialize()
        size = f"{item_bytes(raw)}  # the list: {len(raw['allowlist']['B'])} B"
        print(f"token_item_bytes_all_scopes_location_{label}: {size}")
        print(f"read_units_per_authorization_all_scopes_location_{label}: {read_units(raw)}")


def models_all() -> tuple[Any, ...]:
    from chalicelib import tables

    return tables.ALL_MODELS


def main() -> None:
    moto = start_embedded_dynamodb()
    try:
        from chalicelib.core import clock
        from chalicelib.core.vocabulary import Owner, OwnerType
        from chalicelib.directory.models import UserModel
        from chalicelib.integrations import service
        from chalicelib.tokens import authorizer, catalog, policy, token_text
        from chalicelib.tokens.models import TokenModel
        from local import seed
        from local.tables import create_tables

        create_tables()
        seed.load_seed(ROOT / "seed" / "demo.json")
        admin = UserModel.get("user-admin")
        owner = Owner(OwnerType.LOCATION, "loc-downtown", "agency-demo")
        _, token = service.create(
            admin,
            owner,
            {"name": "bench", "scopes": ["contacts.readonly", "contacts.write", "locations.readonly"]},
        )
        with recording() as calls:

            def reads_for(header: str) -> int:
                calls.take()
                with contextlib.suppress(authorizer.Unauthorized):
                    authorizer.authorize(header, ARN)
                return sum(1 for call in calls.take() if call.operation in READS)

            bad_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
            print(f"reads_per_auth_valid: {reads_for('Bearer ' + token)}")
            print(f"reads_per_auth_malformed: {reads_for('Bearer pit-not-a-token')}")
            print(f"reads_per_auth_bad_checksum: {reads_for('Bearer ' + bad_checksum)}")

            # 1,000 authorizations of one fresh token: in a burst, and spread over 1,000 s (one per second),
            # on the controllable clock.
            spreads = (("writes_per_1000_auths", 0), ("writes_per_1000_auths_over_1000s", 1))
            for label, step_seconds in spreads:
                _, fresh = service.create(admin, owner, {"name": label, "scopes": ["contacts.readonly"]})
                now = clock.ManualClock(datetime.now(UTC))
                clock.set_source(now)
                calls.take()
                for _ in range(1000):
                    authorizer.authorize("Bearer " + fresh, ARN)
                    now.current += timedelta(seconds=step_seconds)
                writes = sum(1 for call in calls.take() if call.operation in WRITES)
                print(f"{label}: {writes}")
            clock.reset()

        # Authorizer vs a bare PynamoDB GetItem of the same item, interleaved.
        digest = token_text.digest(token)
        authorizer.authorize("Bearer " + token, ARN)  # warm caches; lastUsedAt is fresh from here on
        auth_times, get_times = [], []
        for _ in range(400):
            t0 = time.perf_counter()
            TokenModel.get(digest, consistent_read=True)
            t1 = time.perf_counter()
            authorizer.authorize("Bearer " + token, ARN)
            t2 = time.perf_counter()
            get_times.append(t1 - t0)
            auth_times.append(t2 - t1)
        auth_median, get_median = statistics.median(auth_times), statistics.median(get_times)
        print(f"authorizer_median_ms: {auth_median * 1000:.3f}")
        print(f"getitem_median_ms: {get_median * 1000:.3f}")
        print(f"authorizer_vs_getitem_ratio: {auth_median / get_median:.3f}")

        # API Gateway caches this document per token: the largest one a token can get.
        every = frozenset(catalog.scope_levels())
        own = "Lc0wn5Ub4cc0untId01X"  # platform location ids are 20 characters
        biggest = policy.document(every, "location", ARN, own)
        print(f"policy_bytes_all_scopes_location: {len(json.dumps(biggest))}")
        agency = policy.document(every, "agency", ARN)
        print(f"policy_bytes_all_scopes_agency: {len(json.dumps(agency))}")
        arns = [arn for document in (biggest, agency) for s in document["Statement"] for arn in s["Resource"]]
        print(f"policy_longest_resource_arn_chars: {max(map(len, arns))}  # API Gateway's limit: 512")
        write_path_planning(admin)
        allowlist_cost(admin, owner)
        cold_first_authorizations(cold_cases(admin))
        cleanup_items_read()
        from bench import rate_limits

        rate_limits.main()
    finally:
        moto.stop()

    # The module the packaged template names as the authorizer function's Handler (infra/build.py).
    from infra.build import AUTHORIZER_HANDLER

    handler_module = AUTHORIZER_HANDLER.rpartition(".")[0]
    # Peer: what a hand-written authorizer imports (boto3). Floor: the one library ours cannot do without.
    for name, baseline in (("peer", "import boto3"), ("floor", "import pynamodb.models")):
        authorizer_us, baseline_us = import_times(f"import {handler_module}", baseline)
        print(f"import_authorizer_us: {authorizer_us:.0f}  # vs `{baseline}` {baseline_us:.0f}")
        print(f"import_{name}_ratio: {authorizer_us / baseline_us:.3f}")
    # The API handler's cold import (every route, the v2 package included).
    handler_us, baseline_us = import_times("import app", "import pynamodb.models, chalice")
    print(f"import_api_handler_us: {handler_us:.0f}")
    print(f"import_api_handler_ratio: {handler_us / baseline_us:.3f}")


if __name__ == "__main__":
    main()
