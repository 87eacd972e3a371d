"""`make run`: the whole service on this machine.

Starts moto's DynamoDB in server mode (in this process, on a free loopback port), or with
`make run DB=dynamodb-local` (PI_DB) Amazon's DynamoDB Local (a JVM child process), creates the tables,
loads the directory file, restores the data of the previous run (.local-data/, unless PI_FRESH=1), prints
a session token for the demo agency admin, the demo users and curl lines, then serves the Chalice app
with `chalice local`. The data is saved periodically and on Ctrl-C; Ctrl-C stops the server and the
database (moto's thread or DynamoDB Local's JVM): nothing is left running."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
import time

from local.banner import banner
from local.demo import ROOT, read_seed, seed_path
from local.dynamodb import ENGINES, engine, start_embedded_dynamodb
from local.outbox_poller import OutboxPoller
from local.ports import port_file, port_in_use, port_taken_message, requested_port
from local.snapshots import PeriodicSave, data_file, restore_or_start_empty, save_data
from local.usage_poller import UsagePoller

ACCESS_LOG_NAME = "access-log.jsonl"


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
    usage: UsagePoller | None = None
    served = True
    try:
        import click
        from chalice.cli import cli as chalice_cli

        from chalicelib.core.config import settings
        from local import seed
        from local.gateway import install_api_gateway_behaviour
        from local.tables import create_tables

        print("  creating the tables and loading the directory file ...", flush=True)
        create_tables()
        counts = seed.load_seed(seed_path())
        data_line = restore_or_start_empty(settings.table_prefix)
        interval = float(os.environ.get("PI_SAVE_INTERVAL_SECONDS") or 30)
        saver = PeriodicSave(settings.table_prefix, interval)
        saver.start()
        poller = OutboxPoller()
        poller.start()
        # API Gateway's access log, written by the emulated gateway, counted by the aggregator (issue 27).
        from local import access_log

        log_path = data_file().parent / ACCESS_LOG_NAME
        access_log.add_sink(access_log.FileSink(log_path))
        usage = UsagePoller(log_path)
        usage.start()
        base = f"http://127.0.0.1:{port}"
        print(f"  ready in {time.monotonic() - started:.1f} s", flush=True)
        print(banner(base, read_seed(), counts, data_line, interval), flush=True)
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
        if usage is not None:
            usage.stop()
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
