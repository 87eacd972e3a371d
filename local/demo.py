"""The demo directory file and the environment of a local run (`make run`, `make session`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def prepare_environment() -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PI_STAGE": "local",
        # No EMF lines between the request logs: nothing reads them locally.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        os.environ.setdefault(name, value)
    # Local runs never reach AWS: a session token from the environment would only confuse botocore.
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def seed_path() -> Path:
    return Path(os.environ.get("PI_SEED_FILE") or ROOT / "seed" / "demo.json")


def read_seed() -> dict[str, Any]:
    return dict(json.loads(seed_path().read_text(encoding="utf-8")))


def demo_users(seed: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(user id, type and role, what the user may do) for every user of the directory file, by the
    service's own rule (permissions.can_manage), from the file alone: `make session` needs no server."""
    from chalicelib.core.vocabulary import Owner, OwnerType
    from chalicelib.directory import permissions
    from local.seed import user_from_seed

    agencies = {agency["id"]: agency for agency in seed.get("agencies", [])}
    rows = []
    for entry in seed.get("users", []):
        user = user_from_seed(entry)
        agency = agencies.get(user.agency_id, {})
        agency_owner = Owner(OwnerType.AGENCY, user.agency_id, user.agency_id)
        owners = [(agency_owner, agency.get("name", user.agency_id))]
        owners += [
            (Owner(OwnerType.LOCATION, loc["id"], user.agency_id), loc.get("name", loc["id"]))
            for loc in seed.get("locations", [])
            if loc["agencyId"] == user.agency_id
        ]
        managed = [name for owner, name in owners if permissions.can_manage(user, owner)]
        if not (agency.get("labs") or {}).get("privateIntegrations"):
            does = "nothing: Private Integrations is off in its agency's Labs"
        elif managed:
            does = "manages integrations of " + ", ".join(managed)
        else:
            does = "nothing: no Private Integrations permission (sees the 'ask an admin' page)"
        if user.type == "agency" and user.role == "admin":
            does += "; changes permissions and Labs"
        rows.append((str(user.id), f"{user.type} {user.role}", does))
    return rows


def users_table(seed: dict[str, Any]) -> str:
    return "\n".join(f"  {user_id:<20}{kind:<15}{does}" for user_id, kind, does in demo_users(seed))


def admin_of(seed: dict) -> str:
    for user in seed.get("users", []):
        if user.get("type") == "agency" and user.get("role") == "admin":
            return str(user["id"])
    raise SystemExit("The directory file has no agency admin to print a session token for.")
