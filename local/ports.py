"""`make run`'s port: checked before anything starts, written down while serving for `make session`."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from local.snapshots import data_file

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
