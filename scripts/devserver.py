"""`make run`: the whole service on this machine (local/devserver.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.devserver import main

if __name__ == "__main__":
    main()
