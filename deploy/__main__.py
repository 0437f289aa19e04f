"""``python -m deploy``: run the whole deployment in the foreground, to look around; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import signal
import threading
import time

from deploy.stack import EXAMPLE_DAGS, Stack


def main() -> None:
    """Start the stack, print where everything is, and wait for Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("--sms-delay", type=float, default=5.0, help="sandbox seconds until an SMS arrives")
    parser.add_argument("--keep", action="store_true", help="keep the directory with every log afterwards")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    with Stack(
        sorted(EXAMPLE_DAGS.glob("*.py")), budget=600, sms_delay=args.sms_delay, keep=args.keep
    ) as stack:
        airflow = stack.airflow
        created = airflow.api.post(
            "/api/v2/connections",
            json={
                "connection_id": "onlinesim_default",
                "conn_type": "onlinesim",
                "host": stack.control.url,
                "password": stack.api_key,
            },
        )
        created.raise_for_status()
        print(f"up in {time.monotonic() - started:.0f} s; everything lives in {stack.root}")
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
