"""`make run`'s server as a child process for end-to-end tests: start, call, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    def __init__(self, env: dict[str, str] | None = None, *, sigint_ignored: bool = False) -> None:
        """`sigint_ignored`: start it as `make run &` from a non-interactive shell does (SIGINT ignored)."""
        self.port = free_port()
        self.last_trace_id = ""
        self.base = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PI_"))}
        # Never the developer's own `make run` data (.local-data/): a folder of this server's own.
        self._data = tempfile.TemporaryDirectory(prefix="pi-devserver-")
        clean["PI_DATA_DIR"] = self._data.name
        self.process = subprocess.Popen(
            [sys.executable, "scripts/devserver.py"],
            cwd=ROOT,
            env={**clean, "PORT": str(self.port), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,
        )
        self.banner = self._read_banner()
        # Keep reading the output so a chatty server never blocks on a full pipe.
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self._wait_for_port()

    def _drain(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.output.append(line)

    def _read_banner(self) -> list[str]:
        lines = []
        for line in self.process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Press Ctrl-C" in line:
                return lines
        raise RuntimeError("the dev server exited early:\n" + "".join(lines))

    def _wait_for_port(self) -> None:
        for _ in range(100):  # the banner is printed just before the server binds
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the dev server did not start listening")

    def printed_session(self) -> str:
        line = next(line for line in self.banner if "export SESSION=" in line)
        return line.split("SESSION=", 1)[1].strip()

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": "2021-07-28",
            "Content-Type": "application/json",
        }
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self.last_trace_id = response.headers.get("X-Trace-Id", "")
                return int(response.status), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            self.last_trace_id = error.headers.get("X-Trace-Id", "")
            return int(error.code), json.loads(error.read() or b"null")

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user would; returns (exit code, everything printed after the banner)."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # A failed run must not leave servers listening.
            self.process.kill()
            self.process.wait(timeout=10)
            raise
        self._reader.join(timeout=10)
        self._data.cleanup()
        return int(self.process.returncode), "".join(self.output)
