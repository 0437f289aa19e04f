"""Watch, on a schedule, that your service's SMS codes still arrive in every country you serve.

Each run verifies every (service, country) pair at once: one mapped task-group instance per pair
orders a number, hands it to the code-sending step (your product sends its code to it), waits
for the code (deferred) and closes the number (a teardown: completed after a code, cancelled and
refunded without one). A last task turns the results into a report: a table in its log and a
JSON-able summary in XCom (key ``summary``), per pair: delivered or not, time to code, attempts,
refunded.

The report fails the run, so Airflow's alerting fires, when a pair that delivered in an earlier
run does not deliver now. Pairs that never delivered are reported without failing the run (a new
country, or one your product does not serve yet, pages nobody). What each pair did last is kept
between runs in the Airflow Variable ``onlinesim_delivery_monitor__<dag_id>`` (a JSON dict per
``service:country``); delete it to start over.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_MONITOR_PAIRS`` as ``service:country`` pairs
[tg:7,wa:44,vk:380], ``ONLINESIM_MONITOR_SCHEDULE`` [@hourly], ``ONLINESIM_WAIT_TIMEOUT``
seconds [600], ``ONLINESIM_POKE_INTERVAL`` seconds [5]. Against the sandbox, its per-country
delivery rules play your product's SMS (``make demo-monitor`` sets one country that never
delivers).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from airflow.providers.common.compat.sdk import (
    DAG,
    AirflowFailException,
    TriggerRule,
    Variable,
    get_current_context,
    task,
    task_group,
)

from onlinesim_provider.operators.onlinesim import OnlineSimGetNumberOperator, OnlineSimSetStatusOperator
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

log = logging.getLogger(__name__)

DAG_ID = "example_onlinesim_delivery_monitor"
CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
PAIRS = [
    {"service": service.strip(), "country": country.strip()}
    for service, _, country in (
        pair.partition(":")
        for pair in os.environ.get("ONLINESIM_MONITOR_PAIRS", "tg:7,wa:44,vk:380").split(",")
    )
]
SCHEDULE = os.environ.get("ONLINESIM_MONITOR_SCHEDULE", "@hourly")
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "600"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))
#: Where the report keeps what each pair did in the last run.
STATE_VARIABLE = f"onlinesim_delivery_monitor__{DAG_ID}"


@task
def send_code(order: dict[str, Any]) -> str:
    """Stand in for your product's step that sends its verification code to the number."""
    log.info("Sending the %s verification code to +%s", order["service"], order["phone"])
    return str(order["phone"])


@task
def use_code(result: dict[str, Any]) -> dict[str, Any]:
    """Stand in for "enter the code"; note when it arrived, as the DAG saw it."""
    return {"code": result["code"], "received_at": datetime.now(UTC).isoformat()}


# One XCom, the whole dict: the report reads it so, and Airflow 3.0 cannot store a key's None
# (``time_to_code`` of a pair without a code) as an XCom of its own.
@task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
def pair_result(service: str, country: str) -> dict[str, Any]:
    """Collect what this pair's tasks did (their XComs), whether they succeeded or not."""
    ti = get_current_context()["ti"]

    def output(task_id: str) -> Any:
        return ti.xcom_pull(task_ids=f"verify.{task_id}", map_indexes=ti.map_index)

    order, used, closed = output("order_number"), output("use_code"), output("close_number")
    delivered = bool(used)
    time_to_code = None
    if order and used:
        elapsed = datetime.fromisoformat(used["received_at"]) - datetime.fromisoformat(order["ordered_at"])
        time_to_code = round(elapsed.total_seconds(), 1)
    refunded = bool(order and closed and not delivered and closed["closed_as"] in ("cancel", None))
    return {
        "pair": f"{service}:{country}",
        "delivered": delivered,
        "time_to_code": time_to_code,
        "attempts": 1 if order else 0,
        "refunded": refunded,
    }


@task(trigger_rule=TriggerRule.ALL_DONE)
def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Log a table, push the summary, and fail when a pair that delivered before does not now."""
    context = get_current_context()
    # Before a first success there is no history to read (and Airflow 3.0 and 3.1 would log the
    # missing Variable as an error).
    before: dict[str, Any] = (
        Variable.get(STATE_VARIABLE, {}, deserialize_json=True) if context["prev_start_date_success"] else {}
    )
    now = datetime.now(UTC).isoformat()
    pairs = []
    for result in sorted(results, key=lambda r: r["pair"]):
        last_delivered = now if result["delivered"] else before.get(result["pair"], {}).get("last_delivered")
        pairs.append(
            {
                **result,
                "last_delivered": last_delivered,
                "stopped": not result["delivered"] and bool(last_delivered),
            }
        )
    summary = {
        "delivered": sum(p["delivered"] for p in pairs),
        "pairs": pairs,
        "stopped": [p["pair"] for p in pairs if p["stopped"]],
    }
    Variable.set(
        STATE_VARIABLE,
        {p["pair"]: {"last_delivered": p["last_delivered"]} for p in pairs},
        serialize_json=True,
    )
    context["ti"].xcom_push(key="summary", value=summary)
    log.info("Delivery report\n%s", table(pairs))
    if summary["stopped"]:
        raise AirflowFailException(f"SMS codes stopped arriving for {', '.join(summary['stopped'])}")
    return summary


def table(pairs: list[dict[str, Any]]) -> str:
    """Return the pairs as a fixed-width text table."""
    rows = [("pair", "delivered", "time to code", "attempts", "refunded", "status")]
    for p in pairs:
        seconds = "-" if p["time_to_code"] is None else f"{p['time_to_code']:.1f} s"
        status = "STOPPED" if p["stopped"] else "ok" if p["delivered"] else "never delivered"
        rows.append(
            (
                p["pair"],
                "yes" if p["delivered"] else "no",
                seconds,
                str(p["attempts"]),
                "yes" if p["refunded"] else "no",
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


# [START howto_onlinesim_delivery_monitor]
@task_group
def verify(service: str, country: str) -> Any:
    """Order a number, have the code sent to it, wait for the code, close the number."""
    order = OnlineSimGetNumberOperator(
        task_id="order_number", service=service, country=country, onlinesim_conn_id=CONN_ID
    )
    wait_for_code = OnlineSimSmsSensor(
        task_id="wait_for_code",
        activation_id=order.output["activation_id"],
        expires_at=order.output["expires_at"],
        order=order.output,  # labels the metrics: service, country, time to code
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    close_number = OnlineSimSetStatusOperator(
        task_id="close_number",
        activation_id=order.output["activation_id"],
        status="close",
        order=order.output,
        onlinesim_conn_id=CONN_ID,
    ).as_teardown(setups=order)
    send_code(order.output) >> wait_for_code
    used = use_code(wait_for_code.output)
    result = pair_result(service, country)
    # The result, not the teardown, follows the code's use: a pair without a code leaves the
    # run's state to the report.
    used >> close_number >> result
    used >> result
    return result


with DAG(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    report(verify.expand_kwargs(PAIRS))
# [END howto_onlinesim_delivery_monitor]
