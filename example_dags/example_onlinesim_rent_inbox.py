"""Run a DAG for every new message on a rented number (Airflow 3.3+).

A rented number receives every service's SMS for the rented period. Here it is an event source:
``OnlineSimRentMessageTrigger`` watches it from the triggerer, and each poll that finds new
messages (notices skipped; only from ``ONLINESIM_INBOX_SENDER`` and matching
``ONLINESIM_INBOX_PATTERN`` when set) becomes one event of the asset ``onlinesim_rent_inbox``,
which starts a run of this DAG. The trigger keeps its watermark in the asset state store, so a
triggerer restart neither loses nor repeats a message. The task reads every message no earlier
run handled (``unhandled_messages``), so none waits for a later message to start a run, even
where Airflow's scheduler leaves an event for the next run; runs go one at a time.

Rent the number first (``OnlineSimGetRentNumberOperator``, or on the OnlineSIM site) and set
``ONLINESIM_INBOX_RENT_ID``; without it the asset has no watcher and nothing is polled. When the
rent ends, the watcher logs it once and stops polling.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_INBOX_RENT_ID`` [none], ``ONLINESIM_INBOX_SENDER`` [any],
``ONLINESIM_INBOX_PATTERN`` [any text], ``ONLINESIM_POKE_INTERVAL`` seconds [30].

Airflow 2 has no asset watchers: there this file defines no DAG.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
RENT_ID = os.environ.get("ONLINESIM_INBOX_RENT_ID")
SENDER = os.environ.get("ONLINESIM_INBOX_SENDER") or None
PATTERN = os.environ.get("ONLINESIM_INBOX_PATTERN") or None
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "30"))

if AIRFLOW_V_3_3_PLUS:  # AssetWatcher and the asset state store its trigger keeps its watermark in
    from airflow.sdk import DAG, Asset, AssetWatcher, get_current_context, task

    from onlinesim_provider.triggers.rent_inbox import OnlineSimRentMessageTrigger, unhandled_messages

    # [START howto_trigger_onlinesim_rent_inbox]
    watchers = []
    if RENT_ID:
        trigger = OnlineSimRentMessageTrigger(
            rent_id=RENT_ID,
            sender=SENDER,
            text_pattern=PATTERN,
            poll_interval=POKE_INTERVAL,
            onlinesim_conn_id=CONN_ID,
        )
        watchers.append(AssetWatcher(name="onlinesim_rent_messages", trigger=trigger))
    inbox = Asset("onlinesim_rent_inbox", watchers=watchers)

    @task(inlets=[inbox])
    def handle_messages() -> list[dict[str, Any]]:
        """Stand in for "act on the message"; return the messages this run handled."""
        messages = unhandled_messages(get_current_context(), inbox)
        for message in messages:
            log.info("Rent %s got from %s: %s", message["rent_id"], message["phone_from"], message["text"])
        return messages

    with DAG(
        dag_id="example_onlinesim_rent_inbox",
        schedule=[inbox],
        max_active_runs=1,  # each run takes what the one before left: one at a time
        start_date=datetime(2025, 1, 1),
        catchup=False,
        tags=["example", "onlinesim"],
        doc_md=__doc__,
    ) as dag:
        handle_messages()
    # [END howto_trigger_onlinesim_rent_inbox]
