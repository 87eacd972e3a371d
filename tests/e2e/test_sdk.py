"""The platform's official SDK (@gohighlevel/api-client, pinned in tests/e2e/sdk/package-lock.json) works
unchanged against `make run`, with tokens made through the management API (issue 12).

tests/e2e/sdk/integrator.ts is compiled with `tsc --strict` against the SDK's models, then run with node;
every response it received is checked here against the platform's documented response schema.
`make test` installs Debian's nodejs and npm and runs `npm ci`; without them this test fails, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.tokens import token_text
from tests.support.dev_server import ROOT, DevServer
from tests.support.platform_docs import response_problems

SDK_DIR = ROOT / "tests" / "e2e" / "sdk"
AGENCY, LOCATION, OTHER_LOCATION = "agency-demo", "loc-downtown", "loc-uptown"
LOCATION_SCOPES = ["locations.readonly", "contacts.readonly", "contacts.write"]
EXPECTED_STEPS = {
    "get own location": 200,
    "agency gets a location": 200,
    "agency updates a location": 200,
    "location token cannot update": 403,
    "another location": 403,
    "create contact": 201,
    "get contact": 200,
    "update contact": 200,
    "duplicate contact": 400,
    "get contacts by query": 200,
    "search contacts": 200,
    "search with an unserved filter": 422,
    "duplicate lookup": 200,
    "upsert existing": 200,
    "upsert new": 200,
    "missing scope": 403,
    "contact in another location": 403,
    "delete contact": 200,
    "deleted contact is gone": 404,
    "revoked token": 401,
    "garbage token": 401,
    "unsupported Version": 400,
    "burst limit": 429,
    "burst limit retried": 200,
}


def _node_tools() -> tuple[str, str]:
    node, npm = shutil.which("node") or shutil.which("nodejs"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("The SDK test needs Node.js: `make test` installs it (apt-get install nodejs npm).")
    return node, npm


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = _node_tools()
    if not (SDK_DIR / "node_modules" / "@gohighlevel" / "api-client").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True, capture_output=True)
    out = tmp_path_factory.mktemp("sdk")
    tsc = SDK_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run(
        [node, str(tsc), "-p", str(SDK_DIR), "--outDir", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, "tsc --strict:\n" + result.stdout + result.stderr
    # Compiled outside the package: let node find the SDK in tests/e2e/sdk/node_modules.
    (out / "node_modules").symlink_to(SDK_DIR / "node_modules")
    return out / "integrator.js"


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    dev = DevServer()
    yield dev
    dev.stop()


def _token(server: DevServer, session: str, owner: str, scopes: list[str]) -> tuple[str, str]:
    status, body = server.call(
        "POST", f"/{owner}/private-integrations", session, {"name": f"SDK {owner}", "scopes": scopes}
    )
    assert status == 201, body
    return body["token"], body["privateIntegration"]["id"]


def test_the_official_sdk_works_unchanged(compiled: Path, server: DevServer, tmp_path: Path) -> None:
    session = server.printed_session()
    location_token, _ = _token(server, session, f"locations/{LOCATION}", LOCATION_SCOPES)
    agency_token, _ = _token(server, session, f"agencies/{AGENCY}", ["locations.readonly", "locations.write"])
    readonly_token, _ = _token(server, session, f"locations/{LOCATION}", ["contacts.readonly"])
    revoked_token, revoked_id = _token(server, session, f"locations/{LOCATION}", LOCATION_SCOPES)
    assert server.call("DELETE", f"/private-integrations/{revoked_id}", session)[0] == 204
    limited_token, _ = _token(server, session, f"locations/{LOCATION}", ["locations.readonly"])
    out = tmp_path / "steps.jsonl"
    setup = {
        "base": server.base,
        "out": str(out),
        "agencyId": AGENCY,
        "locationId": LOCATION,
        "otherLocationId": OTHER_LOCATION,
        "tokens": {
            "location": location_token,
            "agency": agency_token,
            "readonly": readonly_token,
            "revoked": revoked_token,
            "garbage": token_text.generate()[:-6] + "AAAAAA",
            "limited": limited_token,
        },
    }
    node, _ = _node_tools()
    result = subprocess.run(
        [node, str(compiled)],
        env={**os.environ, "SDK_SETUP": json.dumps(setup)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [json.loads(line) for line in out.read_text().splitlines() if line]
    assert {step["step"]: step["status"] for step in steps} == EXPECTED_STEPS
    for step in steps:
        problems = response_problems(step["method"], step["path"], step["status"], step["body"])
        assert not problems, (step["step"], problems)
