"""Parser helpers shared by the command groups: one command with `--json`, a --x/--no-x pair."""
from __future__ import annotations


def command(subparsers, name, func, help_text):
    """A command under `subparsers` that runs `func(args)` and accepts `--json`."""
    p = subparsers.add_parser(name, help=help_text)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=func)
    return p


def bool_pair(parser, name: str, help_on: str) -> None:
    dest = name.replace("-", "_")
    parser.add_argument(f"--{name}", dest=dest, action="store_true", default=None, help=help_on)
    parser.add_argument(f"--no-{name}", dest=dest, action="store_false", default=None)
