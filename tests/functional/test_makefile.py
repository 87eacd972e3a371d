"""The Makefile's first-run setup as a newcomer sees it, driven with a stand-in Python (a few seconds,
no network): no error lines, and a sign of life every second while pip works."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
