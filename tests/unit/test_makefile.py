"""`make run` passes the choice to start empty whichever way it is spelled (issue 22)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fresh_seen_by_devserver(tmp_path: Path, make_args: list[str], env_fresh: str | None) -> str:
    """What PI_FRESH the dev server would see: a stand-in virtualenv whose python prints it."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text('#!/bin/sh\nprintf "PI_FRESH=[%s]" "${PI_FRESH-unset}"\n')
    python.chmod(0o755)
    (venv / ".installed").touch()  # newer than the requirements: nothing to install
    env = {k: v for k, v in os.environ.items() if k not in ("PI_FRESH", "FRESH", "MAKEFLAGS")}
    if env_fresh is not None:
        env["PI_FRESH"] = env_fresh
    answer = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "run", f"VENV={venv}", *make_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return answer.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    ("make_args", "env_fresh", "seen"),
    [
        ([], "1", "PI_FRESH=[1]"),  # PI_FRESH=1 make run: was overwritten with an empty value
        (["FRESH=1"], None, "PI_FRESH=[1]"),
        (["FRESH=1"], "0", "PI_FRESH=[1]"),  # the command line wins
        ([], None, "PI_FRESH=[unset]"),
    ],
)
def test_both_spellings_of_fresh_reach_the_dev_server(
    tmp_path: Path, make_args: list[str], env_fresh: str | None, seen: str
) -> None:
    assert fresh_seen_by_devserver(tmp_path, make_args, env_fresh) == seen
