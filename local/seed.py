"""Loading a directory file (SPEC "Running it"): agencies, locations (with their documented fields,
checked against the platform's location document) and users. Used by `make run`, the tests and the bench;
it sits above directory/ and v2/ because it needs both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.v2 import schema


def _location_details(location: dict[str, Any]) -> dict[str, Any]:
    """A location's other documented fields (address, phone, ...), checked against the platform's
    GetLocationByIdSchema so that v2 answers stay documented."""
    details = {key: value for key, value in location.items() if key not in ("id", "agencyId", "name")}
    problems = schema.problems("locations", "GetLocationByIdSchema", details)
    if "settings" in details:  # computed: duplicate contacts are never allowed here
        problems.append("settings cannot be seeded")
    if problems:
        raise ValueError(f"location {location['id']} in the directory file: {'; '.join(problems)}")
    return details


def user_from_seed(user: dict[str, Any]) -> UserModel:
    """A user of the directory file as an item (not saved): also what `make run` describes."""
    flags = (user.get("permissions") or {}).get("privateIntegrations") or {}
    return UserModel(
        user["id"],
        agency_id=user["agencyId"],
        type=user["type"],
        role=user["role"],
        location_ids=list(user.get("locationIds") or []),
        perm_agency=flags.get("agency"),
        perm_sub_account=flags.get("subAccount"),
    )


def load_seed(path: str | Path) -> dict[str, int]:
    """Load a directory file (SPEC "Running it") into empty tables: items are written as given."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for agency in data.get("agencies", []):
        AgencyModel(
            agency["id"],
            name=agency.get("name", agency["id"]),
            labs_private_integrations=bool(agency.get("labs", {}).get("privateIntegrations", False)),
            integration_count=0,
        ).save()
    for location in data.get("locations", []):
        LocationModel(
            location["id"],
            agency_id=location["agencyId"],
            name=location.get("name", location["id"]),
            integration_count=0,
            details=_location_details(location),
        ).save()
    for user in data.get("users", []):
        user_from_seed(user).save()
    return {key: len(data.get(key, [])) for key in ("agencies", "locations", "users")}
