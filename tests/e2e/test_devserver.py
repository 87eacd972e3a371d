"""`make run`'s server, started for real: banner, session, a token used through chalice local, Ctrl-C."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.dev_server import ROOT, DevServer


def test_make_run_serves_the_api_and_stops_cleanly() -> None:
    server = DevServer()
    try:
        session = server.printed_session()
        status, me = server.call("GET", "/me", session)
        assert status == 200 and me["user"]["id"] == "user-admin"
        status, created = server.call(
            "POST",
            "/locations/loc-downtown/private-integrations",
            session,
            {"name": "smoke", "scopes": ["locations.readonly"]},
        )
        assert status == 201
        token = created["token"]
        # The local outbox reads moto's stream and logs each event it publishes.
        published = "outbox: published integration.created id="
        integration = created["privateIntegration"]["id"]
        for _ in range(100):
            if any(published in line and integration in line for line in server.output):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the create was not published:\n" + "".join(server.output))
        status, location = server.call("GET", "/locations/loc-downtown", token)
        assert status == 200 and location["location"]["id"] == "loc-downtown"
        trace_id = server.last_trace_id
        assert server.call("GET", "/contacts/abc", token)[0] == 403
        status, body = server.call("GET", "/locations/loc-downtown", "pit-nope")
        assert status == 401 and body["error"] == "Unauthorized"
    finally:
        returncode, output = server.stop()
    assert returncode == 0, output
    assert "Stopped the API and the embedded DynamoDB." in output
    # One JSON log line per request, with the trace id the response carried; never a token.
    assert f'"traceId": "{trace_id}"' in output
    assert token not in output and token[4:] not in output
    with socket.socket() as sock:
        # Nothing listens any more (SO_REUSEADDR only tolerates connections left in TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))
        sock.listen()


def test_ctrl_c_stops_make_run_even_when_started_with_sigint_ignored() -> None:
    """`make run &` from a non-interactive shell inherits SIGINT ignored; Ctrl-C must still stop it."""
    server = DevServer(sigint_ignored=True)
    returncode, output = server.stop()
    assert returncode == 0, output
    assert "Stopped the API and the embedded DynamoDB." in output
def _try_block(banner: list[str]) -> str:
    """The banner's "Try:" examples as the shell script a user would paste."""
    text = "".join(banner)
    return text.split("Try:\n", 1)[1].split("\nPress Ctrl-C", 1)[0]


def test_the_banners_examples_work_when_pasted_in_order(tmp_path: Path) -> None:
    server = DevServer({"PI_DATA_DIR": str(tmp_path)})
    try:
        script = (
            "set -euo pipefail\nexport SESSION=" + server.printed_session() + "\n" + _try_block(server.banner)
        )
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        # Example 3 sets $TOKEN, example 4 uses it, and the feed shows what example 3 created.
        compact = result.stdout.replace(" ", "")
        assert '"location":{"id":"loc-downtown"' in compact
        assert compact.count('"type":"integration.created"') == 1
        assert "My CRM sync" in result.stdout
    finally:
        server.stop()


def test_the_banner_lists_the_demo_users_and_what_each_may_do(tmp_path: Path) -> None:
    server = DevServer({"PI_DATA_DIR": str(tmp_path)})
    server.stop()
    users = "".join(server.banner).split("Demo users", 1)[1].split("\n\n", 1)[0]
    lines = {line.split()[0]: line for line in users.splitlines()[1:]}
    assert set(lines) == {
        "user-admin",
        "user-staff-granted",
        "user-staff",
        "user-account-admin",
        "user-account",
    }
    assert "Demo Agency" in lines["user-admin"] and "permissions and Labs" in lines["user-admin"]
    assert "nothing" in lines["user-staff"] and "nothing" in lines["user-account"]
    assert (
        "Downtown Dental" in lines["user-account-admin"] and "Demo Agency" not in lines["user-account-admin"]
    )
    assert "make session USER=<id>" in users


def _make_session(user: str, port: int) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PI_"))}
    return subprocess.run(
        ["make", "-s", "session", f"USER={user}"],
        cwd=ROOT,
        env={**clean, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_session_prints_a_working_session_for_any_user_with_or_without_make_run(tmp_path: Path) -> None:
    # Without make run: it still prints (sessions are JWTs signed with the local secret).
    offline = _make_session("user-account-admin", 8000)
    assert offline.returncode == 0, offline.stderr
    assert "http://127.0.0.1:8000/#session=" in offline.stdout
    server = DevServer({"PI_DATA_DIR": str(tmp_path)})
    try:
        for user in ("user-staff", "user-account-admin"):
            printed = _make_session(user, server.port)
            assert printed.returncode == 0, printed.stderr
            session = next(
                line.split("SESSION=", 1)[1].strip()
                for line in printed.stdout.splitlines()
                if "SESSION=" in line
            )
            assert f"{server.base}/#session={session}" in printed.stdout
            status, me = server.call("GET", "/me", session)
            assert status == 200 and me["user"]["id"] == user
    finally:
        server.stop()
    unknown = _make_session("user-nobody", 8000)
    assert unknown.returncode != 0
    assert "user-nobody" in unknown.stderr and "user-admin" in unknown.stderr  # says which exist
    missing = subprocess.run(["make", "-s", "session"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "USER=<id>" in missing.stderr


def _create(server: DevServer, name: str) -> str:
    status, created = server.call(
        "POST",
        "/locations/loc-downtown/private-integrations",
        server.printed_session(),
        {"name": name, "scopes": ["locations.readonly"]},
    )
    assert status == 201, created
    return str(created["token"])


def _names(server: DevServer) -> list[str]:
    status, body = server.call(
        "GET", "/locations/loc-downtown/private-integrations", server.printed_session()
    )
    assert status == 200
    return [item["name"] for item in body["privateIntegrations"]]


def test_make_run_keeps_its_data_between_runs_unless_fresh(tmp_path: Path) -> None:
    env = {"PI_DATA_DIR": str(tmp_path), "PI_SAVE_INTERVAL_SECONDS": "1"}
    first = DevServer(env)
    try:
        token = _create(first, "kept on Ctrl-C")
    finally:
        assert first.stop()[0] == 0
    second = DevServer(env)
    try:
        assert "restored" in "".join(second.banner)
        assert _names(second) == ["kept on Ctrl-C"]
        assert second.call("GET", "/locations/loc-downtown", token)[0] == 200  # the token still works
        _create(second, "kept by the periodic save")
        time.sleep(3)
        # Restored events are not published again; the new create is, once.
        published = [line for line in second.output if "outbox: published" in line]
        assert len(published) == 1 and "integration.created" in published[0], second.output
    finally:
        # A crash (no Ctrl-C, so no save on stop): the periodic save has it.
        second.process.kill()
        second.process.wait(timeout=10)
    third = DevServer(env)
    try:
        assert sorted(_names(third)) == ["kept by the periodic save", "kept on Ctrl-C"]
    finally:
        third.stop()
    fresh = DevServer({**env, "PI_FRESH": "1"})
    try:
        assert _names(fresh) == []
        assert fresh.call("GET", "/locations/loc-downtown", token)[0] == 401
    finally:
        fresh.stop()
    # Without PI_DATA_DIR the data lives in .local-data/, which git ignores.
    assert (
        subprocess.run(["git", "check-ignore", "-q", ".local-data/dynamodb.json"], cwd=ROOT).returncode == 0
    )


def test_make_run_on_a_port_in_use_fails_in_one_line_and_saves_nothing(tmp_path: Path) -> None:
    """Issue 25: it printed the banner and a 30-line traceback, then wrote "Saved 31 items" into the
    data file of the server that held the port."""
    saved = tmp_path / "dynamodb.json"
    saved.write_text('{"the running server": "its data"}')
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PI_"))}
        started = time.monotonic()
        result = subprocess.run(
            ["make", "-s", "run"],
            cwd=ROOT,
            env={**clean, "PORT": str(port), "PI_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    said = (result.stdout + result.stderr).strip().splitlines()
    # make's own "Error 1" line ("make[1]: ..." when make runs inside make, as under `make test`).
    said = [line for line in said if not re.match(r"make(\[\d+\])?: ", line)]
    assert said == [
        f"Port {port} is already in use (another `make run`?): stop that one, or pick another port, "
        f"e.g. `make run PORT={port + 1}`."
    ]
    assert saved.read_text() == '{"the running server": "its data"}'
    assert time.monotonic() - started < 60


def test_the_banner_says_whether_githubs_keys_are_configured(tmp_path: Path) -> None:
    plain = DevServer({"PI_DATA_DIR": str(tmp_path / "plain")})
    plain.stop()
    said = next(line for line in plain.banner if "secret-scanning keys" in line)
    assert "none: GitHub leak reports are refused" in said
    keys = tmp_path / "keys.json"
    keys.write_text('{"public_keys": []}')
    with_keys = DevServer({"PI_DATA_DIR": str(tmp_path / "keys"), "PI_GITHUB_KEYS_FILE": str(keys)})
    with_keys.stop()
    said = next(line for line in with_keys.banner if "secret-scanning keys" in line)
    assert f"{keys} (GitHub leak reports are checked against it)" in said


def test_make_session_links_to_the_port_make_run_serves_on(tmp_path: Path) -> None:
    """Issue 25: `make session` linked to 8000 while `make run PORT=...` served elsewhere."""
    server = DevServer({"PI_DATA_DIR": str(tmp_path)})
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PI_", "PORT"))}
        printed = subprocess.run(
            ["make", "-s", "session", "USER=user-admin"],
            cwd=ROOT,
            env={**clean, "PI_DATA_DIR": str(tmp_path)},  # no PORT: the running server's is found
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stderr
        assert f"{server.base}/#session=" in printed.stdout
    finally:
        server.stop()
    assert not (tmp_path / "serving-port").exists()  # gone with the server


def test_make_run_passes_the_clients_own_address_to_the_authorizer() -> None:
    """Issue 28: `make run` emulates API Gateway's REQUEST authorizer, whose `context.identity.sourceIp`
    is the TCP peer: a client connecting from 127.0.0.2 is that address, whatever X-Forwarded-For says."""
    server = DevServer()
    try:
        session = server.printed_session()
        status, created = server.call(
            "POST",
            "/locations/loc-downtown/private-integrations",
            session,
            {"name": "office only", "scopes": ["locations.readonly"], "allowedIps": ["127.0.0.2"]},
        )
        assert status == 201, created
        token = created["token"]

        def get(source: str, forwarded: str | None = None) -> tuple[int, dict[str, Any]]:
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, timeout=10, source_address=(source, 0)
            )
            headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
            if forwarded:
                headers["X-Forwarded-For"] = forwarded
            try:
                connection.request("GET", "/locations/loc-downtown", headers=headers)
                response = connection.getresponse()
                return response.status, json.loads(response.read())
            finally:
                connection.close()

        status, body = get("127.0.0.1", forwarded="127.0.0.2")
        assert status == 403, body
        assert "127.0.0.1" in body["message"] and "restricts the addresses" in body["message"]
        status, body = get("127.0.0.2")
        assert status == 200 and body["location"]["id"] == "loc-downtown"
        # Report mode: the same outsider is let in.
        integration = created["privateIntegration"]["id"]
        change = {"ipRestriction": "report"}
        assert server.call("PATCH", f"/private-integrations/{integration}", session, change)[0] == 200
        assert get("127.0.0.1")[0] == 200
    finally:
        returncode, output = server.stop()
    assert returncode == 0, output
