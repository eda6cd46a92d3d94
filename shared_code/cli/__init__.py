"""Admin command line: `python -m shared_code.cli --help`.

The command names and their `--json` shapes are a public interface: keep them stable.
Errors go to stderr with exit code 1 (2 for usage errors).

Layout: `output.py` (the helpdesk, printing) and `options.py` (parser helpers) are leaves;
one module per command group imports them; `parser.py` assembles the groups and runs them.
"""
from .parser import build_parser, main

__all__ = ["build_parser", "main"]
