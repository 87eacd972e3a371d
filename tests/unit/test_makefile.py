"""The Makefile as a newcomer meets it, driven with stand-in Pythons (seconds, no network): `make run`
passes the choice to start empty whichever way it is spelled (issue 22), and the first run's setup
prints no errors and a sign of life every second (issue 25)."""

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


FAKE_PYTHON = """#!/bin/bash
# `-m venv DIR` makes DIR/bin/python (this script); pip finds 3 packages, then installs for 2 s.
case "$1 $2" in
  "-m venv") mkdir -p "$3/bin"; cp "$0" "$3/bin/python" ;;
  "-m pip")
    if [ "$3" = install ] && [ "$4" != "--quiet" ]; then
      for n in 1 2 3; do echo "Collecting pkg$n"; sleep 0.4; done
      echo "Installing collected packages: pkg1, pkg2, pkg3"; sleep 2.2; echo "Successfully installed"
    fi ;;
esac
exit 0
"""


def test_first_run_progress_has_no_errors_and_moves_every_second(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "venv", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # issue 25: "grep: .venv/install.log: No such file or directory"
    # Text mode reads each carriage return (an update of the progress line) as a line end.
    ticks = [line.strip() for line in result.stdout.splitlines() if line.strip().endswith(" s")]
    assert len(ticks) >= 3  # one update a second, with the seconds counting
    assert any("packages found" in step for step in ticks)
    assert any("unpacking and installing" in step for step in ticks)  # the long silent phase, named
    assert result.stdout.rstrip().endswith("done")
