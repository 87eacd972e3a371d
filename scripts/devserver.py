"""`make run`: the whole service on this machine.

Starts moto's DynamoDB in server mode (in this process, on a free loopback port), creates the tables,
loads the directory file, prints a session token for the demo agency admin with curl lines, then serves
the Chalice app with `chalice local`. Ctrl-C stops the server and moto: nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _prepare_environment() -> None:
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


def _admin_of(seed: dict) -> str:
    for user in seed.get("users", []):
        if user.get("type") == "agency" and user.get("role") == "admin":
            return str(user["id"])
    raise SystemExit("The directory file has no agency admin to print a session token for.")


def _stop_on_signals() -> None:
    """Ctrl-C stops the server however it was started (`make run &` from a non-interactive shell
    inherits SIGINT ignored), and SIGTERM (e.g. from a supervisor) shuts down as cleanly."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _accept_bursts() -> None:
    """`chalice local` listens with http.server's backlog of 5: a burst of clients gets connection
    resets. API Gateway takes bursts; so does the local server (a backlog of 128)."""
    from chalice.local import ThreadedHTTPServer

    ThreadedHTTPServer.request_queue_size = 128


def _serialized_moto_server() -> Any:
    """moto's threaded server, with one request at a time inside moto.

    moto's DynamoDB is not isolated between threads: a transaction that fails its conditions rolls back
    by restoring a copy of the whole table taken when it started, wiping what other requests committed
    meanwhile. DynamoDB serializes conflicting writes itself; here one lock does (local runs only).
    """
    import threading

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serialized(environ: Any, start_response: Any) -> Any:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


def start_embedded_dynamodb() -> Any:
    """moto in server mode on a free loopback port; sets AWS_ENDPOINT_URL_DYNAMODB. Call before chalicelib."""
    _prepare_environment()
    # moto's own request log is noise here; chalice local still logs each API request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = _serialized_moto_server()
    moto.start()
    host, moto_port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://{host}:{moto_port}"
    return moto


def main() -> None:
    _stop_on_signals()
    # The service's own log lines (one JSON line per request, with its trace id) on the console.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("private_integrations").setLevel(logging.INFO)
    moto = start_embedded_dynamodb()
    try:
        import click
        from chalice.cli import cli as chalice_cli

        from chalicelib import directory, models, sessions
        from chalicelib.local_gateway import install_api_gateway_behaviour

        models.create_tables()
        seed_file = Path(os.environ.get("PI_SEED_FILE") or ROOT / "seed" / "demo.json")
        counts = directory.load_seed(seed_file)
        seed = json.loads(seed_file.read_text(encoding="utf-8"))
        admin = _admin_of(seed)
        session = sessions.mint(admin)
        port = int(os.environ.get("PORT", "8000"))
        agency_id = next(u["agencyId"] for u in seed["users"] if u["id"] == admin)
        location_id = next(
            (loc["id"] for loc in seed.get("locations", []) if loc["agencyId"] == agency_id), ""
        )
        base = f"http://127.0.0.1:{port}"
        summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
        print(
            f"""
Private Integrations, local
  DynamoDB (moto server): {os.environ["AWS_ENDPOINT_URL_DYNAMODB"]}
  Directory: {seed_file} ({summary})
  API: {base}

Settings page (signed in as '{admin}'): {base}/#session={session}

Session token for agency admin '{admin}' (valid 12 hours):
  export SESSION={session}

Try:
  curl -s {base}/me -H "Authorization: Bearer $SESSION" -H 'Version: 2021-07-28'
  curl -s {base}/scopes -H "Authorization: Bearer $SESSION" -H 'Version: 2021-07-28'
  curl -s -X POST {base}/locations/{location_id}/private-integrations \\
       -H "Authorization: Bearer $SESSION" -H 'Version: 2021-07-28' -H 'Content-Type: application/json' \\
       -d '{{"name": "My CRM sync", "description": "Nightly export", "scopes": ["locations.readonly", \
"contacts.readonly", "contacts.write"]}}'
  curl -s {base}/locations/{location_id}/private-integrations -H "Authorization: Bearer $SESSION" \
-H 'Version: 2021-07-28'
  curl -s {base}/agencies/{agency_id}/private-integrations/events -H "Authorization: Bearer $SESSION" \
-H 'Version: 2021-07-28'

Press Ctrl-C to stop.
""",
            flush=True,
        )
        install_api_gateway_behaviour()
        _accept_bursts()
        args = ["--project-dir", str(ROOT), "local", "--host", "127.0.0.1", "--port", str(port)]
        # Ctrl-C arrives as KeyboardInterrupt, or as click's Abort from inside the command.
        with contextlib.suppress(KeyboardInterrupt, click.exceptions.Abort):
            chalice_cli.main([*args, "--stage", "local", "--no-autoreload"], obj={}, standalone_mode=False)
    finally:
        moto.stop()
        print("\nStopped the API and the embedded DynamoDB.", flush=True)


if __name__ == "__main__":
    main()
