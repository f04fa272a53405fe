"""``python -m server``: the same as ``tensorsmith serve``, for running the service without the CLI."""

from __future__ import annotations

import argparse

from server.serve import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database-url", default=None, help="sqlite:///path or postgresql://user@host/db")
    parser.add_argument("--worker-token", default=None)
    parser.add_argument("--admin-password", default=None)
    parser.add_argument("--private", action="store_true", help="reading needs a signed-in user")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    serve(
        args.host,
        args.port,
        args.database_url,
        worker_token=args.worker_token,
        admin_password=args.admin_password,
        public_read=False if args.private else None,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
