"""Plan again every live token planned under another catalog (Runbook: after a deploy that changes the
scope catalog, PI_EXTRA_SCOPES_FILE or the planner; metric PoliciesPlanned above zero).

Run it with the stage's settings, e.g.

    PI_STAGE=prod AWS_REGION=us-east-1 python scripts/replan_policies.py

It prints the counts; run it again if it says it stopped early (it never stops by itself today).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from chalicelib.tokens import replan, stored_policy

    print(f"catalog version {stored_policy.version()}")
    print(json.dumps(replan.replan()))


if __name__ == "__main__":
    main()
