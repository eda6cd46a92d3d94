"""`python -m shared_code.web [--host 127.0.0.1] [--port 8080]`: the web app under uvicorn, with
the same settings (environment variables) as the command line."""
from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared_code.web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    import uvicorn

    from ..config import SettingError
    from .app import create_app

    try:
        app = create_app()
    except SettingError as error:  # refused at start-up: say which setting, no traceback
        parser.exit(2, f"deskmail web app refused to start: {error}\n")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
