"""What `make run` prints when it is ready: where everything is, a session, the demo users, curl lines."""

from __future__ import annotations

import os
from typing import Any

from local.demo import admin_of, seed_path, users_table
from local.dynamodb import ENGINES, engine


def keys_line() -> str:
    from chalicelib.scanning import keys

    source = keys.configured()
    if source is None:
        return "none: GitHub leak reports are refused (docs/secret-scanning.md: PI_GITHUB_KEYS_FILE=...)"
    return f"{source.partition(':')[2]} (GitHub leak reports are checked against it)"


def banner(base: str, seed: dict[str, Any], counts: dict[str, int], data_line: str, interval: float) -> str:
    from chalicelib.directory import sessions

    admin = admin_of(seed)
    session = sessions.mint(admin)
    agency_id = next(u["agencyId"] for u in seed["users"] if u["id"] == admin)
    location_id = next((loc["id"] for loc in seed.get("locations", []) if loc["agencyId"] == agency_id), "")
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    auth = '-H "Authorization: Bearer $SESSION" -H \'Version: 2021-07-28\''
    location = f"{base}/locations/{location_id}"
    return f"""
Private Integrations, local
  DynamoDB ({ENGINES[engine()]}): {os.environ["AWS_ENDPOINT_URL_DYNAMODB"]}
  Directory: {seed_path()} ({summary})
  Data: {data_line}
        saved every {interval:g} s and on Ctrl-C; `make run FRESH=1` starts empty
  API: {base}
  GitHub's secret-scanning keys: {keys_line()}

Settings page (signed in as '{admin}'): {base}/#session={session}

Session token for agency admin '{admin}' (valid 12 hours):
  export SESSION={session}

Demo users (a session and page link for any of them: make session USER=<id>):
{users_table(seed)}

Try:
# 1. Who am I, and what may I manage?
curl -s {base}/me {auth}
# 2. The scopes an integration may hold
curl -s {base}/scopes {auth}
# 3. Create an integration for a sub-account; the token is shown once: keep it in $TOKEN
TOKEN=$(curl -s -X POST {location}/private-integrations {auth} -H 'Content-Type: application/json' \\
  -d '{{"name": "My CRM sync", "scopes": ["locations.readonly", "contacts.readonly"]}}' \\
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'); echo "$TOKEN"
# 4. Call the platform's API with it (v2 routes take the token, not the session)
curl -s {location} -H "Authorization: Bearer $TOKEN" -H 'Version: 2021-07-28'
# 5. The sub-account's integrations, then its audit feed (what 3 just did)
curl -s {location}/private-integrations {auth}
curl -s {location}/private-integrations/events {auth}

Press Ctrl-C to stop.
"""
