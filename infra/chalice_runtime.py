"""`chalice package` for the functions' runtime (build.RUNTIME) rather than for the Python running it.

Chalice takes the Lambda Python, and so the wheels of compiled packages, from the interpreter it runs
under, and asks pip for manylinux wheels without `--python-version`, so pip looks for the running
Python's wheels. cryptography (GitHub's signatures) loads cffi's `_cffi_backend`, which is built per
Python version: packaged from a 3.11 virtualenv it would not import on python3.12. Both are set to the
runtime here, then Chalice's own command line runs as usual (infra/build.py runs this as a script).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from chalice import cli, config
from chalice.deploy import packager

RUNTIME = os.environ["PI_LAMBDA_RUNTIME"]  # e.g. "python3.12"
_execute = packager.PipRunner._execute


def _lambda_python_version(self: config.Config) -> str:
    return RUNTIME


def _execute_for_runtime(
    self: packager.PipRunner, command: str, args: list[str], *rest: Any, **kw: Any
) -> Any:
    if command == "download" and "--abi" in args:  # the manylinux wheels of compiled packages
        args = ["--python-version", RUNTIME.removeprefix("python"), *args]
    return _execute(self, command, args, *rest, **kw)


config.Config.lambda_python_version = property(_lambda_python_version)  # type: ignore[method-assign,assignment]
packager.PipRunner._execute = _execute_for_runtime  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
