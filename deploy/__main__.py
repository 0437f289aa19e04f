"""``python -m deploy``: run the whole deployment in the foreground, to look around; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import TYPE_CHECKING

from deploy.stack import EXAMPLE_DAGS, Stack

if TYPE_CHECKING:
    from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("--sms-delay", type=float, default=5.0, help="sandbox seconds until an SMS arrives")
    parser.add_argument("--keep", action="store_true", help="keep the directory with every log afterwards")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="CeleryExecutor on Redis with two Celery workers and two triggerers (default: LocalExecutor)",
    )
    parser.add_argument(
        "--budget", type=float, default=900.0, help="seconds allowed for the start-up (default: 900)"
    )
    args = parser.parse_args(argv)
    if args.sms_delay < 0:
        parser.error(f"--sms-delay: expected seconds >= 0, got {args.sms_delay}")
    if args.budget <= 0:
        parser.error(f"--budget: expected seconds > 0, got {args.budget}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Start the stack, print where everything is, and wait for Ctrl-C or SIGTERM.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    with Stack(
        sorted(EXAMPLE_DAGS.glob("*.py")),
        budget=args.budget,
        sms_delay=args.sms_delay,
        keep=args.keep,
        distributed=args.distributed,
    ) as stack:
        airflow = stack.airflow
        stack.connect()
        print(f"up in {time.monotonic() - started:.0f} s; everything lives in {stack.root}")
        print(f"components:              {', '.join(airflow.components)}")
        print(f"Airflow UI and REST API: {airflow.base_url}  (user admin, password {airflow.password})")
        print(f"OnlineSIM sandbox:       {stack.control.url}  (API key {stack.api_key})")
        print("connection onlinesim_default points at the sandbox; the example DAGs are paused")
        print(f"component logs:          {airflow.component_logs}")
        print("Ctrl-C stops everything.", flush=True)
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
