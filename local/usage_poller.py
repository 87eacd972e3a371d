"""The deployed Firehose stream's stand-in for `make run`: the access-log file to the aggregator."""

from __future__ import annotations

import logging
import threading
from pathlib import Path


class UsagePoller(threading.Thread):
    """Reads the lines appended to the access-log file (local/access_log.py) every `interval` seconds and
    runs the aggregator on them, as the deployed Firehose stream runs it as its Lambda processor.

    A failing batch is tried again twice (Firehose's processor retries), then dropped with a warning:
    counts may be lost or, for the keys written before a failure, counted twice; requests never fail."""

    RETRIES = 2

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        super().__init__(name="usage", daemon=True)
        self.path, self.interval = path, interval
        self.offset = 0
        self.stopped = threading.Event()
        self.log = logging.getLogger("private_integrations.usage")

    def _new_lines(self) -> list[tuple[str, int]]:
        try:
            with self.path.open("rb") as source:
                source.seek(self.offset)
                data = source.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self.offset += len(complete)
        return [(line, 0) for line in complete.decode("utf-8", errors="replace").splitlines() if line]

    def drain(self) -> None:
        from chalicelib.usage import aggregator

        lines = self._new_lines()
        if not lines:
            return
        for attempt in range(self.RETRIES + 1):
            try:
                aggregator.apply(lines)
                return
            except Exception as error:
                if attempt == self.RETRIES:
                    print(
                        f"usage: {len(lines)} access-log lines not counted ({type(error).__name__})",
                        flush=True,
                    )

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.drain()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        self.drain()  # what was answered before Ctrl-C is counted before the data is saved
