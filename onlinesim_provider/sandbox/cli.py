"""``onlinesim-sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from typing import TYPE_CHECKING

from onlinesim_provider.sandbox.config import DIALECTS, SandboxConfig
from onlinesim_provider.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

__all__ = ["build_parser", "main"]

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="onlinesim-sandbox",
        description="Offline sandbox of the OnlineSIM Alternative API (loopback test server).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=DEFAULT_PORT, help="port, 0 = any free (default: %(default)s)")
    add("--key", default="sandbox-key", help="the API key to accept (default: %(default)s)")
    add("--balance", default="1000.00", help="starting balance (default: %(default)s)")
    add("--sms-delay", type=float, default=None, help="sandbox seconds until an SMS arrives by itself")
    add("--speed", type=float, default=1.0, help="clock speed factor (default: %(default)s)")
    add("--seed", type=int, default=None, help="seed for random SMS codes and delivery draws")
    add(
        "--delivery",
        metavar="RULE",
        action="append",
        default=[],
        help="COUNTRY:SERVICE:PROBABILITY[:DELAY]: chance that an SMS ever arrives for a number, and"
        " after how many sandbox seconds (N or MIN-MAX); '*' matches any country or service;"
        " repeat for more rules, the first match decides (e.g. --delivery 7:tg:0.0"
        " --delivery '*:tg:0.9:5-60')",
    )
    add(
        "--dialect",
        choices=tuple(DIALECTS),
        default="onlinesim",
        help="sms-activate: cancel is status 8, JSON errors say 'message', country 0 is Russia,"
        " setRentStatus 1 = finish and 2 = cancel (default: %(default)s)",
    )
    add(
        "--error-key",
        choices=("msg", "message"),
        default=None,
        help="JSON error envelope key (default: the dialect's)",
    )
    add(
        "--cancel-status",
        type=int,
        choices=(6, 8),
        default=None,
        help="status that cancels an order (default: the dialect's)",
    )
    add(
        "--common-errors",
        choices=("text", "json"),
        default="text",
        help="BAD_KEY / BAD_ACTION on JSON actions: plain text or the JSON envelope (default: %(default)s)",
    )
    add(
        "--rent-quant",
        choices=("count", "nested"),
        default="count",
        help="getRentServicesAndCountries 'quant': a number or {current, total} (default: %(default)s)",
    )
    add("--values-format", choices=("object", "list"), default="object", help="rent 'values' shape")
    add("--number-format", choices=("national", "international"), default="national", help="rent numbers")
    add("--auth", choices=("any", "header", "query"), default="any", help="accepted key transport")
    add("--early-cancel-seconds", type=float, default=0.0, help="refuse status 8 this soon after the order")
    add("--tls-cert", metavar="FILE", default=None, help="serve HTTPS with this PEM certificate (chain)")
    add("--tls-key", metavar="FILE", default=None, help="the PEM private key of --tls-cert")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Return the settings named on the command line.

    :param args: the parsed arguments.
    """
    return SandboxConfig(
        api_key=args.key,
        balance=args.balance,
        sms_delay=args.sms_delay,
        delivery=args.delivery,
        seed=args.seed,
        speed=args.speed,
        dialect=args.dialect,
        error_key=args.error_key,
        cancel_status=args.cancel_status,
        common_errors=args.common_errors,
        rent_quant=args.rent_quant,
        values_format=args.values_format,
        number_format=args.number_format,
        auth=args.auth,
        early_cancel_seconds=args.early_cancel_seconds,
    )


def ssl_context_from_args(args: argparse.Namespace) -> ssl.SSLContext | None:
    """Return the server TLS context named by ``--tls-cert``/``--tls-key`` (``None``: plain HTTP).

    :param args: the parsed arguments.
    :raises ValueError: only one of the two is given, or the files cannot be loaded.
    """
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None or args.tls_key is None:
        raise ValueError("--tls-cert and --tls-key go together: expected both files or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as bad:
        raise ValueError(
            f"cannot load --tls-cert {args.tls_cert!r} with --tls-key {args.tls_key!r}: {bad}"
            " (expected a PEM certificate and its PEM private key)"
        ) from bad
    return context


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; return the exit status.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        context = ssl_context_from_args(args)
    except ValueError as bad:
        parser.error(str(bad))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        server = SandboxServer(config, host=args.host, port=args.port, ssl_context=context).start()
    except OSError as failure:
        print(f"onlinesim-sandbox: cannot listen on {args.host}:{args.port}: {failure}", file=sys.stderr)
        return 1
    print(f"onlinesim-sandbox listening on {server.url}  (API: {server.api_url})", flush=True)
    print(f"api key: {server.api_key}", flush=True)
    print(f"controls: {server.url}/_sandbox/  (Ctrl-C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    print("onlinesim-sandbox stopped", flush=True)
    return 0
