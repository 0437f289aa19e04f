"""Run the verification example DAG against the sandbox, as ``make demo`` does.

Starts the sandbox on a free loopback port, points the ``onlinesim_default`` connection at it,
prepares a throw-away Airflow home whose DAGs folder holds ``example_onlinesim_verification``,
runs ``airflow db migrate`` and ``airflow dags test`` there, and prints the phone number, the
code and the sandbox's ledger. Nothing leaves 127.0.0.1, nothing costs money.

Usage: ``python scripts/demo.py [--keep]`` (``--keep`` leaves the Airflow home for inspection).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from onlinesim_provider.sandbox import SandboxConfig, SandboxControl, SandboxServer

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_onlinesim_verification"
DAG_FILE = REPO / "example_dags" / f"{DAG_ID}.py"
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_env(home: Path, sandbox_url: str, api_key: str) -> dict[str, str]:
    """Return the environment of the Airflow commands: isolated home, sandbox connection."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONLINESIM_"))}
    connection = {"conn_type": "onlinesim", "host": sandbox_url, "password": api_key}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_ONLINESIM_DEFAULT": json.dumps(connection),
            "ONLINESIM_SANDBOX_URL": sandbox_url,
            "ONLINESIM_POKE_INTERVAL": "1",
            "ONLINESIM_WAIT_TIMEOUT": "60",
        }
    )
    return env


def run(step: str, args: list[str], env: dict[str, str], log: Path) -> None:
    """Run one Airflow command, its output going to ``log``; exit with its tail if it fails."""
    started = time.monotonic()
    print(f"  {step} ...", end="", flush=True)
    with log.open("ab") as out:
        result = subprocess.run([str(AIRFLOW), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    print(f" {time.monotonic() - started:.1f} s")
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        sys.exit(f"`airflow {' '.join(args)}` failed (exit {result.returncode}); its last lines:\n{tail}")


def prepare(description: str, dag_file: Path) -> tuple[bool, Path, Path]:
    """Parse ``--keep`` and lay out a throw-away Airflow home whose DAGs folder holds ``dag_file``.

    :param description: the command's one-line description, for ``--help``.
    :param dag_file: the DAG file to run.
    :return: whether to keep the home, the home, and the log file the Airflow commands write.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--keep", action="store_true", help="keep the temporary Airflow home")
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="onlinesim-demo-"))
    (home / "dags").mkdir()
    shutil.copyfile(dag_file, home / "dags" / dag_file.name)
    return options.keep, home, home / "demo.log"


def main() -> int:
    """Run the demo; return the process exit code."""
    started = time.monotonic()
    keep, home, log = prepare(__doc__.splitlines()[0], DAG_FILE)
    try:
        with SandboxServer(SandboxConfig(), host="127.0.0.1", port=0) as server:
            sandbox = server.control
            print(f"Sandbox running at {server.url} (balance {sandbox.summary()['balance']})")
            env = airflow_env(home, server.url, server.api_key)
            run("airflow db migrate", ["db", "migrate"], env, log)
            run(f"airflow dags test {DAG_ID}", ["dags", "test", DAG_ID], env, log)
            return report(sandbox, started)
    finally:
        if keep:
            print(f"Airflow home kept at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def report(sandbox: SandboxControl, started: float) -> int:
    """Print what the run did, as the sandbox saw it; return 0 when the verification succeeded."""
    activations = sandbox.activations()
    summary = sandbox.summary()
    calls = [r["action"] for r in sandbox.requests()]
    print()
    for activation in activations:
        codes = [m["code"] for m in activation["messages"]] or ["(none)"]
        where = f"{activation['service']}, country {activation['country']}"
        print(f"Phone number : +{activation['phone']} ({where})")
        print(f"Code         : {', '.join(codes)}")
        print(f"Activation   : {activation['state']}")
    money = f"charged {summary['charged']}, refunded {summary['refunded']}, balance {summary['balance']}"
    print(f"Ledger       : {money}")
    print(f"API calls    : {len(calls)} ({', '.join(calls)})")
    print(f"Wall time    : {time.monotonic() - started:.1f} s")
    ok = len(activations) == 1 and summary["completed"] == 1 and summary["refunded"] == "0.00"
    print("Verification succeeded." if ok else "Verification did NOT succeed: see the log above.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
