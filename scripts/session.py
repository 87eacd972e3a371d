"""`make session USER=<id>`: a session token and Settings page link for any user of the directory file.

Sessions are JWTs signed with the local secret (PI_SESSION_SECRET, else the local default), so this
works whether or not `make run` is running; the user must exist in the directory file it loads. The link
names PORT when given, else the port a running `make run` serves on, else 8000.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.demo import (
    demo_users,
    prepare_environment,
    read_seed,
    seed_path,
    users_table,
)
from local.ports import serving_port


def main(argv: list[str]) -> int:
    prepare_environment()
    from chalicelib.directory import sessions

    seed = read_seed()
    users = {user_id: f"{kind}; {does}" for user_id, kind, does in demo_users(seed)}
    user_id = argv[0] if argv else ""
    if user_id not in users:
        problem = f"'{user_id}' is not a user of {seed_path()}" if user_id else "Say which user"
        print(f"{problem}: run `make session USER=<id>` with one of\n{users_table(seed)}", file=sys.stderr)
        return 2
    session = sessions.mint(user_id)
    base = f"http://127.0.0.1:{serving_port()}"  # PORT, else the port a running `make run` serves on
    print(f"Session for '{user_id}' ({users[user_id]}), valid 12 hours:")
    print(f"  export SESSION={session}")
    print(f"Settings page (needs `make run`): {base}/#session={session}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
