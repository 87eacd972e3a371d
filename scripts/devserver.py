"""`make run`: the whole service on this machine.

Starts moto's DynamoDB in server mode (in this process, on a free loopback port), or with
`make run DB=dynamodb-local` (PI_DB) Amazon's DynamoDB Local (a JVM child process), creates the tables,
loads the directory file, restores the data of the previous run (.local-data/, unless PI_FRESH=1), prints
a session token for the demo agency admin, the demo users and curl lines, then serves the Chalice app
with `chalice local`. The data is saved periodically and on Ctrl-C; Ctrl-C stops the server and the
database (moto's thread or DynamoDB Local's JVM): nothing is left running.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from base64 import b64decode, b64encode
from datetime import UTC, datetime
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


def seed_path() -> Path:
    return Path(os.environ.get("PI_SEED_FILE") or ROOT / "seed" / "demo.json")


def read_seed() -> dict[str, Any]:
    return dict(json.loads(seed_path().read_text(encoding="utf-8")))


def demo_users(seed: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(user id, type and role, what the user may do) for every user of the directory file, by the
    service's own rule (permissions.can_manage), from the file alone: `make session` needs no server."""
    from chalicelib.core.vocabulary import Owner, OwnerType
    from chalicelib.directory import permissions
    from chalicelib.seed import user_from_seed

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


ENGINES = {"moto": "moto server", "dynamodb-local": "DynamoDB Local"}


def engine() -> str:
    """PI_DB (`make run DB=…`): "moto" (the default) or "dynamodb-local"."""
    chosen = os.environ.get("PI_DB") or "moto"
    if chosen not in ENGINES:
        raise SystemExit(f"DB={chosen} is not an engine here: use one of {', '.join(ENGINES)}.")
    return chosen


class _Running:
    """A DynamoDB Local someone else started (PI_DYNAMODB_LOCAL_ENDPOINT): used, never stopped."""

    def stop(self) -> None:
        pass


def start_embedded_dynamodb() -> Any:
    """The engine on a free loopback port; sets AWS_ENDPOINT_URL_DYNAMODB. Call before chalicelib.
    Returns what `stop()` ends: moto's server thread, or DynamoDB Local's JVM."""
    _prepare_environment()
    if engine() == "dynamodb-local":
        from scripts.dynamodb_local import DynamoDBLocal, NotInstalled

        shared = os.environ.get("PI_DYNAMODB_LOCAL_ENDPOINT")  # the tests' one JVM per session
        if shared:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = shared
            return _Running()
        try:
            local = DynamoDBLocal()
        except NotInstalled as error:
            raise SystemExit(str(error)) from None
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local.endpoint
        return local
    # moto's own request log is noise here; chalice local still logs each API request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = _serialized_moto_server()
    moto.start()
    host, moto_port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://{host}:{moto_port}"
    return moto


# --- persistence: the tables as DynamoDB JSON in one file, restored on start, saved periodically/on stop


def data_file() -> Path:
    return Path(os.environ.get("PI_DATA_DIR") or ROOT / ".local-data") / "dynamodb.json"


# --- the port: checked before anything starts; written down while serving, for `make session` ---
DEFAULT_PORT = 8000


def port_file() -> Path:
    return data_file().with_name("serving-port")


def requested_port() -> int:
    return int(os.environ.get("PORT") or DEFAULT_PORT)


def serving_port() -> int:
    """The port to link to: PORT if given, else the one a running `make run` serves on, else 8000."""
    if os.environ.get("PORT"):
        return requested_port()
    with contextlib.suppress(OSError, ValueError):
        return int(port_file().read_text().strip())
    return DEFAULT_PORT


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (bound as the server binds: address reuse on, so a
    port in TIME_WAIT counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_taken_message(port: int) -> str:
    return (
        f"Port {port} is already in use (another `make run`?): stop that one, or pick another port, "
        f"e.g. `make run PORT={port + 1}`."
    )


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])


def _encode(value: Any) -> Any:
    # Binary attributes ("B"/"BS") are bytes in boto3's answers; JSON carries them as base64.
    if isinstance(value, bytes):
        return {"$base64": b64encode(value).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    return b64decode(value["$base64"]) if set(value) == {"$base64"} else value


def save_data(prefix: str) -> int:
    """Every item of this stage's tables, through DynamoDB's own API (scans, so the moto server's lock
    is taken per request, never held across the snapshot). Written to a temporary file and renamed, so
    a crash mid-save leaves the previous snapshot whole. Returns the number of items."""
    client = _dynamodb()
    tables: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if name.startswith(prefix):
                scans = client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True)
                tables[name[len(prefix) :]] = [item for scan in scans for item in scan["Items"]]
    target = data_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps({"tables": tables}, default=_encode), encoding="utf-8")
    os.replace(partial, target)
    return sum(len(items) for items in tables.values())


def restore_data(prefix: str) -> int:
    """Put the saved items back (over the directory file's, so changed permissions survive too)."""
    saved = json.loads(data_file().read_text(encoding="utf-8"), object_hook=_decode)
    client = _dynamodb()
    count = 0
    for short_name, items in saved["tables"].items():
        for start in range(0, len(items), 25):
            pending: dict[str, Any] = {
                prefix + short_name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            }
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            count += len(items[start : start + 25])
    return count


class PeriodicSave(threading.Thread):
    """Saves every PI_SAVE_INTERVAL_SECONDS (default 30), so a crash loses at most that much."""

    def __init__(self, prefix: str, interval: float) -> None:
        super().__init__(name="periodic-save", daemon=True)
        self.prefix, self.interval = prefix, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                save_data(self.prefix)
            except Exception as error:  # a failed save must not stop the server; the next one retries
                print(f"Could not save the local data ({type(error).__name__}: {error})", flush=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


class OutboxPoller(threading.Thread):
    """The deployed stream mapping's stand-in: reads the events table's stream every second and runs the
    outbox's handler on it, which logs each event it would put on EventBridge (there is none here).

    Kept off `make run`'s start: it begins a moment after the API serves and reads the stream from its
    start, passing on only the events written since `make run` started (restored ones are not
    published again), so nothing written before it began polling is missed."""

    def __init__(self, interval: float = 1.0, delay: float = 1.0) -> None:
        super().__init__(name="outbox", daemon=True)
        self.interval, self.delay = interval, delay
        self.since = datetime.now(UTC)
        self.stopped = threading.Event()
        self.log = logging.getLogger("private_integrations.outbox")

    def _publish_by_logging(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        for entry in entries:
            detail = json.loads(entry["Detail"])
            self.log.info(
                "outbox: published %s id=%s integration=%s (source %s)",
                entry["DetailType"],
                detail["id"],
                detail.get("integrationId"),
                entry["Source"],
            )
        return {"FailedEntryCount": 0, "Entries": [{"EventId": detail_id(entry)} for entry in entries]}

    def _handle(self, event: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.audit import outbox
        from chalicelib.audit.model import EventModel

        def new(record: dict[str, Any]) -> bool:
            image = record.get("dynamodb", {}).get("NewImage")
            return bool(image) and EventModel.from_raw_data(image).at >= self.since

        return outbox.handle({"Records": [r for r in event["Records"] if new(r)]}, self._publish_by_logging)

    def run(self) -> None:
        if self.stopped.wait(self.delay):
            return
        import boto3

        from chalicelib.audit.local_stream import StreamMapping
        from chalicelib.audit.model import EventModel
        from chalicelib.core.config import settings

        try:
            mapping = StreamMapping(
                self._handle,
                client=boto3.client("dynamodbstreams", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"]),
                stream_arn=EventModel.describe_table()["LatestStreamArn"],
                batch_size=settings.outbox_batch_size,
                max_retry_attempts=settings.outbox_max_retry_attempts,
                on_failure=lambda record: self.log.warning("outbox: gave up %s", json.dumps(record)),
            )
        except Exception as error:
            print(f"The local outbox could not start ({type(error).__name__}: {error})", flush=True)
            return
        while True:
            try:
                mapping.drain()
            except Exception as error:  # the API keeps serving; the next poll tries again
                print(f"The local outbox could not read the stream ({type(error).__name__})", flush=True)
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def detail_id(entry: dict[str, Any]) -> str:
    return str(json.loads(entry["Detail"])["id"])


def _restore_or_start_empty(prefix: str) -> str:
    """Restores the previous run's data unless PI_FRESH is set; the banner's line about the data."""
    where = data_file()
    if os.environ.get("PI_FRESH", "") not in ("", "0"):
        return f"{where} (FRESH: started empty; the saved data is replaced at the next save)"
    if not where.exists():
        return f"{where} (none yet: started empty)"
    print(f"  restoring the previous run's data from {where} ...", flush=True)
    try:
        count = restore_data(prefix)
    except Exception as error:
        raise SystemExit(
            f"Could not restore {where} ({type(error).__name__}: {error}). "
            "Start empty with `make run FRESH=1` (that replaces the saved data)."
        ) from None
    return f"{where} (restored {count} items)"


def _keys_line() -> str:
    from chalicelib.integrations import scanning_keys

    source = scanning_keys.configured()
    if source is None:
        return "none: GitHub leak reports are refused (docs/secret-scanning.md: PI_GITHUB_KEYS_FILE=...)"
    return f"{source.partition(':')[2]} (GitHub leak reports are checked against it)"


def _banner(base: str, seed: dict[str, Any], counts: dict[str, int], data_line: str, interval: float) -> str:
    from chalicelib.directory import sessions

    admin = _admin_of(seed)
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
  GitHub's secret-scanning keys: {_keys_line()}

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


def main() -> None:
    # Before anything starts: a port in use ends here, in one line, with nothing saved or printed.
    port = requested_port()
    if port_in_use(port):
        print(port_taken_message(port), file=sys.stderr, flush=True)
        sys.exit(1)
    _stop_on_signals()
    # The service's own log lines (one JSON line per request, with its trace id) on the console.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("private_integrations").setLevel(logging.INFO)
    started = time.monotonic()
    print(f"Starting: the embedded DynamoDB ({ENGINES[engine()]}) ...", flush=True)
    database = start_embedded_dynamodb()
    saver: PeriodicSave | None = None
    poller: OutboxPoller | None = None
    served = True
    try:
        import click
        from chalice.cli import cli as chalice_cli

        from chalicelib import seed
        from chalicelib import tables as models
        from chalicelib.core.config import settings
        from chalicelib.http.local_gateway import install_api_gateway_behaviour

        print("  creating the tables and loading the directory file ...", flush=True)
        models.create_tables()
        counts = seed.load_seed(seed_path())
        data_line = _restore_or_start_empty(settings.table_prefix)
        interval = float(os.environ.get("PI_SAVE_INTERVAL_SECONDS") or 30)
        saver = PeriodicSave(settings.table_prefix, interval)
        saver.start()
        poller = OutboxPoller()
        poller.start()
        base = f"http://127.0.0.1:{port}"
        print(f"  ready in {time.monotonic() - started:.1f} s", flush=True)
        print(_banner(base, read_seed(), counts, data_line, interval), flush=True)
        install_api_gateway_behaviour()
        _accept_bursts()
        args = ["--project-dir", str(ROOT), "local", "--host", "127.0.0.1", "--port", str(port)]
        port_file().parent.mkdir(parents=True, exist_ok=True)
        port_file().write_text(f"{port}\n")
        # Ctrl-C arrives as KeyboardInterrupt, or as click's Abort from inside the command.
        with contextlib.suppress(KeyboardInterrupt, click.exceptions.Abort):
            chalice_cli.main([*args, "--stage", "local", "--no-autoreload"], obj={}, standalone_mode=False)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        # Taken between the check and the bind: this run never served, so it saves nothing.
        print(port_taken_message(port), file=sys.stderr, flush=True)
        served = False
    finally:
        with contextlib.suppress(OSError):
            if port_file().read_text().strip() == str(port):
                port_file().unlink()
        if poller is not None:
            poller.stop()
        if saver is not None:
            saver.stop()
        if saver is not None and served:
            try:
                print(f"\nSaved {save_data(saver.prefix)} items to {data_file()}.", flush=True)
            except Exception as error:
                print(f"\nCould not save the local data ({type(error).__name__}: {error}).", flush=True)
        database.stop()
        print("\nStopped the API and the embedded DynamoDB.", flush=True)


if __name__ == "__main__":
    main()
