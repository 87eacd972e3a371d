"""`make run`'s server, started for real: banner, session, a token used through chalice local, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_make_run_serves_the_api_and_stops_cleanly() -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PI_"))}
    env["PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "scripts/devserver.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner, session = [], ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            banner.append(line)
            if "export SESSION=" in line:
                session = line.split("SESSION=", 1)[1].strip()
            if "Press Ctrl-C" in line or not line:
                break
        assert session, "".join(banner)
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):  # the banner is printed just before the server binds
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        auth = {
            "Authorization": f"Bearer {session}",
            "Version": "2021-07-28",
            "Content-Type": "application/json",
        }
        status, me = _call("GET", f"{base}/me", auth)
        assert status == 200 and me["user"]["id"] == "user-admin"
        status, created = _call(
            "POST",
            f"{base}/locations/loc-downtown/private-integrations",
            auth,
            {"name": "smoke", "scopes": ["locations.readonly"]},
        )
        assert status == 201
        token_headers = {"Authorization": f"Bearer {created['token']}", "Version": "2021-07-28"}
        status, location = _call("GET", f"{base}/locations/loc-downtown", token_headers)
        assert status == 200 and location["location"]["id"] == "loc-downtown"
        assert _call("GET", f"{base}/contacts/abc", token_headers)[0] == 403
        bad = {"Authorization": "Bearer pit-nope", "Version": "2021-07-28"}
        assert _call("GET", f"{base}/locations/loc-downtown", bad)[0] == 401
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Stopped the API and the embedded DynamoDB." in output
    with socket.socket() as sock:
        # Nothing listens any more (SO_REUSEADDR only tolerates connections left in TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
