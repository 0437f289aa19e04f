"""Run the delivery-monitor example DAG twice against the sandbox, as ``make demo-monitor`` does.

The sandbox plays your product's SMS with per-country delivery rules: the first run every pair
gets its code; before the second, country 380 stops delivering, and the monitor turns that run
red. Each run's report (the summary the report task pushed to XCom) is printed as a table, with
the sandbox's ledger. Nothing leaves 127.0.0.1, nothing costs money.

Usage: ``python scripts/demo_monitor.py [--keep]`` (``--keep`` leaves the Airflow home for inspection).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from demo import AIRFLOW, REPO, airflow_env, prepare, run

from onlinesim_provider.sandbox import SandboxConfig, SandboxServer

if TYPE_CHECKING:
    from pathlib import Path

DAG_ID = "example_onlinesim_delivery_monitor"
DAG_FILE = REPO / "example_dags" / f"{DAG_ID}.py"
#: Every pair's code arrives 1 to 3 sandbox seconds after the order.
DELIVERING = ["*:*:1.0:1-3"]
#: Then country 380 stops delivering.
ONE_COUNTRY_SILENT = ["380:*:0.0", *DELIVERING]


def main() -> int:
    """Run the two monitor runs; return 0 when only the second one caught a stopped pair."""
    keep, home, log = prepare(__doc__.splitlines()[0], DAG_FILE)
    try:
        with SandboxServer(SandboxConfig(delivery=DELIVERING, seed=7), host="127.0.0.1", port=0) as server:
            env = airflow_env(home, server.url, server.api_key)
            env.pop("ONLINESIM_SANDBOX_URL")  # the delivery rules send the codes
            env.update({"ONLINESIM_WAIT_TIMEOUT": "8", "ONLINESIM_MONITOR_SCHEDULE": "@hourly"})
            print(f"Sandbox running at {server.url}; pairs tg:7, wa:44, vk:380")
            run("airflow db migrate", ["db", "migrate"], env, log)
            first = monitor_run("Run 1: every country delivers", env, log, home)
            server.control.set_delivery(ONE_COUNTRY_SILENT)
            second = monitor_run("Run 2: country 380 stops delivering", env, log, home)
            summary = server.control.summary()
            print(f"Ledger: charged {summary['charged']}, refunded {summary['refunded']}")
    finally:
        if keep:
            print(f"Airflow home kept at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    ok = first.get("stopped") == [] and second.get("stopped") == ["vk:380"]
    print("The monitor caught the country that stopped delivering." if ok else "Unexpected: see above.")
    return 0 if ok else 1


def monitor_run(title: str, env: dict[str, str], log: Path, home: Path) -> dict[str, object]:
    """Run the DAG once with ``airflow dags test``; print and return its report's summary."""
    from onlinesim_provider.example_dags.example_onlinesim_delivery_monitor import table

    print(f"\n{title}")
    started = time.monotonic()
    with log.open("ab") as out:
        done = subprocess.run(
            [str(AIRFLOW), "dags", "test", DAG_ID], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    summary = last_summary(home / "airflow.db")
    print(table(summary["pairs"]) if summary else "(no report)")
    stopped = ", ".join(summary.get("stopped") or []) or "none"
    took = time.monotonic() - started
    print(f"Run took {took:.1f} s (exit {done.returncode}); stopped delivering: {stopped}")
    return summary


def last_summary(database: Path) -> dict[str, object]:
    """Return the newest summary the report task pushed (read from the run's SQLite metadata DB)."""
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'report' AND key = 'summary'"
            " ORDER BY timestamp DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
    return json.loads(row[0]) if row else {}


if __name__ == "__main__":
    sys.exit(main())
