"""Child process: run a sandbox, print its URL as JSON, serve until stdin closes.

The request log is enlarged (``--log-size``) so that a benchmark can count every API call of a
run, per activation, from the sandbox's own record.
"""

from __future__ import annotations

import argparse
import json
import sys

from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from onlinesim_provider.sandbox import server as sandbox_server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._sandbox")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--sms-delay", type=float, default=None)
    parser.add_argument("--log-size", type=int, default=10_000)
    args = parser.parse_args()
    sandbox_server.REQUEST_LOG_SIZE = args.log_size
    config = SandboxConfig(balance="1000000.00", sms_delay=args.sms_delay, speed=args.speed)
    with SandboxServer(config, seed=7) as server:
        print(json.dumps({"url": server.url, "api_key": server.api_key}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
