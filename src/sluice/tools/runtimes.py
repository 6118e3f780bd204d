"""`python -m sluice.tools.runtimes build|show`: prepare, or show, how each Python runtime runs
on this machine (its interpreter and runtime libraries; see sluice.runtime.python). `make` runs
`build`, which pip-installs awslambdaric and boto3 for every Python version found here."""

from __future__ import annotations

import argparse
import sys

from ..runtime.python import discover


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluice.tools.runtimes")
    parser.add_argument("command", choices=["build", "show"])
    parser.add_argument("--python", action="append", default=[], metavar="RUNTIME=PATH",
                        help="as for `sluice up`")
    args = parser.parse_args(argv)
    overrides = dict(item.partition("=")[::2] for item in args.python)
    for choice in discover(overrides, build=args.command == "build").values():
        print(choice.note or f"{choice.runtime} runs on {choice.interpreter}")
        print(f"    runtime libraries: {choice.libs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
