"""Emergency: revoke every token of an agency, for an on-call operator with AWS credentials.

The same action as `POST /agencies/{agencyId}/private-integrations/revoke-all`
(chalicelib/integrations/emergency.py), for when no agency admin can sign in. Audited: each deleted
integration's event names the operator ("operator:<name>") and the reason. Run it with the stage's
settings, e.g.

    PI_STAGE=prod AWS_REGION=us-east-1 PI_CACHE_FLUSH_TARGETS=<restApiId>/api[,<downstream>/<stage>] \\
        python scripts/revoke_all.py --agency AGENCY_ID --operator alice --reason "leaked admin session"

PI_CACHE_FLUSH_TARGETS names the API stages whose authorizer cache to flush (this service's own and
every downstream API using the authorizer); without it cached Allows last up to the cache TTL.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agency", required=True, help="the agency whose every token is revoked")
    parser.add_argument("--operator", required=True, help="who runs this (recorded in the audit events)")
    parser.add_argument("--reason", required=True, help="why (recorded in the audit events)")
    args = parser.parse_args(argv)

    from chalicelib.core.errors import ServiceError
    from chalicelib.http import errors
    from chalicelib.integrations import emergency

    try:
        reason = emergency.parse_body({"reason": args.reason})
        result = emergency.revoke_all(f"operator:{args.operator}", args.agency, reason)
    except ServiceError as error:
        print(json.dumps(errors.body(error)), file=sys.stderr)  # what the API would answer
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
