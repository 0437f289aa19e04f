"""``onlinesim-sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import re
import signal
import ssl
import sys
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from onlinesim_provider.sandbox.config import SandboxConfig, explain
from onlinesim_provider.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "config_from_args", "main"]

#: How the command line gives the settings that are not text; pydantic checks every value.
_OPTIONS: dict[str, dict[str, Any]] = {
    "seed": {"type": int},
    "cancel_status": {"type": int},
    "delivery": {"action": "append", "metavar": "RULE"},
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser: a flag per :class:`SandboxConfig` setting, helped by its ``:param:`` text."""
    parser = argparse.ArgumentParser(
        prog="onlinesim-sandbox",
        description="Offline sandbox of the OnlineSIM Alternative API (loopback test server).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=8765, help="port, 0 = any free (default: %(default)s)")
    add("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain)")
    add("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    helps = dict(re.findall(r"^:param (\w+): (.+(?:\n .+)*)", inspect.getdoc(SandboxConfig) or "", re.M))
    for name, setting in SandboxConfig.model_fields.items():
        default = "" if setting.default in (None, []) else f" (default: {setting.default})"
        text = " ".join(helps.get(name, "").replace("``", "").split()) + default
        flag = "--key" if name == "api_key" else "--" + name.replace("_", "-")
        add(flag, dest=name, help=text.replace("%", "%%"), **_OPTIONS.get(name, {}))
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Return the settings named on the command line.

    :param args: the parsed arguments.
    :raises pydantic.ValidationError: a setting is invalid.
    """
    given = vars(args).items()
    return SandboxConfig(**{k: v for k, v in given if v is not None and k in SandboxConfig.model_fields})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; return the exit status.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config, context = config_from_args(args), None
    except ValidationError as bad:
        parser.error(explain(bad))
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together: expected both files or neither")
    if args.tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as bad:
            files = f"--tls-cert {args.tls_cert!r} with --tls-key {args.tls_key!r}"
            parser.error(f"cannot load {files}: {bad} (expected a PEM certificate and its PEM private key)")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the sandbox as Ctrl-C does
    try:
        server = SandboxServer(config, host=args.host, port=args.port, ssl_context=context).start()
    except OSError as failure:
        print(f"onlinesim-sandbox: cannot listen on {args.host}:{args.port}: {failure}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        try:
            print(f"onlinesim-sandbox listening on {server.url}  (API: {server.api_url})", flush=True)
            print(f"api key: {server.api_key}", flush=True)
            print(f"controls: {server.url}/_sandbox/  (Ctrl-C to stop)", flush=True)
            while True:
                time.sleep(3600)
        finally:
            server.stop()
    print("onlinesim-sandbox stopped", flush=True)
    return 0
