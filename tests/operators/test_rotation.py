"""``OnlineSimVerificationOperator`` driven step by step against the sandbox, outside a DAG run.

The task's context is a stand-in task instance with an in-memory task state store (where the
rotation keeps its record), so each step can be run, dropped and resumed the way a worker, a
triggerer and Airflow's retries would. The full DAG runs are in ``tests/dags/test_rotation.py``.
The rotation's record (``RotationState``) is tested first, on its own.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.triggers.base import TaskSuccessEvent

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators.rotation import (
    NumberRejected,
    OnlineSimVerificationOperator,
    RotationState,
)
from onlinesim_provider.triggers.onlinesim import run_to_event
from onlinesim_provider.waits.deadline import utcnow
from tests.reliability.chaos import FlowTI
from tests.reliability.chaos import _rebuild as rebuild
from tests.reliability.test_restarts import _run_then_drop
from tests.state_store import TaskStateStore

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

RECORD = "onlinesim_pending_rotation"


def _context(store: TaskStateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    ti = FlowTI("test_rotation", "verify", "manual__rotation", try_number)
    return {"ti": ti, "task_instance": ti, "task_state_store": store or TaskStateStore()}


def _operator(submit: Any, **kwargs: Any) -> OnlineSimVerificationOperator:
    settings = {"service": "tg", "country": ["44", "7"], "attempt_timeout": 1.0, "poke_interval": 0.1}
    return OnlineSimVerificationOperator(task_id="verify", submit=submit, **{**settings, **kwargs})


def _calls(sandbox: SandboxControl) -> list[str]:
    return [request["action"] for request in sandbox.requests()]


def _no_service(phone: str, order: dict[str, Any]) -> None:
    """A service that never sends the SMS."""


# --- the rotation's record ---------------------------------------------------------------------

DEADLINE = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
ORDER = {"activation_id": 5, "phone": "447000000005", "country": "44"}


def _tried(*countries: str | None) -> RotationState:
    attempts = [{"activation_id": n, "country": c, "outcome": "no_code"} for n, c in enumerate(countries, 1)]
    return RotationState(deadline=DEADLINE, attempts=attempts)


def test_the_record_round_trips_through_json_values() -> None:
    state = _tried("44")
    state.order, state.attempt_deadline, state.submitted = {**ORDER, "activation_id": 9}, DEADLINE, True
    record = state.to_record()
    assert json.loads(json.dumps(record)) == record
    assert RotationState.from_record(record) == state
    assert (record["order"], record["submitted"], record["code"]) == (
        {**ORDER, "activation_id": 9},
        True,
        None,
    )


@pytest.mark.parametrize(
    "record",
    [None, "text", {"activation_id": 5}, {"deadline": ""}, {"deadline": "2030-01-31T12:00:00"}],
    ids=["nothing", "not-a-dict", "another-operators-order", "no-deadline", "naive-deadline"],
)
def test_a_record_that_is_no_rotation_gives_none(record: object) -> None:
    assert RotationState.from_record(record) is None


@pytest.mark.parametrize(
    ("tried", "countries", "expected"),
    [
        pytest.param((), ["44", "7", "380"], ["44", "7", "380"], id="first-attempt"),
        pytest.param(("44",), ["44", "7", "380"], ["7", "380", "44"], id="after-the-first"),
        pytest.param(("44", "7", "380"), ["44", "7", "380"], ["44", "7", "380"], id="wraps-around"),
        pytest.param((None,), [None], [None], id="server-default"),
        pytest.param(("1",), ["44", "7"], ["44", "7"], id="last-country-not-in-the-list"),
    ],
)
def test_the_next_attempt_starts_after_the_last_country_used(
    tried: tuple[str | None, ...], countries: list[str | None], expected: list[str | None]
) -> None:
    assert _tried(*tried).countries_from(countries) == expected


def test_the_result_lists_every_attempt_ending_with_the_code() -> None:
    state = _tried("44", None)
    assert state.describe() == (
        "2 attempts: activation 1 (country 44) no_code; activation 2 (country default) no_code"
    )
    assert RotationState(deadline=DEADLINE).describe() == "no number was tried"
    state.order, state.code = {**ORDER, "activation_id": 3, "country": "7", "phone": "79000000003"}, "123456"
    assert state.result() == {
        "activation_id": 3,
        "phone": "79000000003",
        "country": "7",
        "code": "123456",
        "attempts": [
            {"activation_id": 1, "country": "44", "outcome": "no_code"},
            {"activation_id": 2, "country": None, "outcome": "no_code"},
            {"activation_id": 3, "country": "7", "outcome": "code"},
        ],
    }


# --- bad input -------------------------------------------------------------------------------

BAD = [
    pytest.param(
        {"attempts": 0}, r"Invalid attempts: got 0; expected a whole number of at least 1", id="attempts-0"
    ),
    pytest.param({"attempts": "many"}, r"Invalid attempts: got 'many'", id="attempts-text"),
    pytest.param(
        {"attempt_timeout": 0}, r"Invalid attempt_timeout: got 0; expected a positive", id="timeout-0"
    ),
    pytest.param({"attempt_timeout": -5}, r"Invalid attempt_timeout: got -5", id="timeout-negative"),
    pytest.param({"attempt_timeout": "soon"}, r"Invalid attempt_timeout: got 'soon'", id="timeout-text"),
    pytest.param({"timeout": timedelta(0)}, r"Invalid timeout: got datetime.timedelta\(0\)", id="overall-0"),
    pytest.param({"poke_interval": -1}, r"Invalid poke_interval: got -1", id="poke-interval"),
    pytest.param({"service": ""}, r"Invalid service: got ''", id="service"),
    pytest.param({"country": []}, r"Invalid country: got \[\]", id="no-country"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_input_fails_when_the_dag_is_parsed(
    onlinesim_conn: SandboxControl, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AirflowFailException, match=message):
        _operator(_no_service, **kwargs)
    assert _calls(onlinesim_conn) == []


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_input_fails_at_run_time_before_any_money_is_spent(
    onlinesim_conn: SandboxControl, kwargs: dict[str, Any], message: str
) -> None:
    operator = _operator(_no_service)
    for name, value in kwargs.items():  # as a template would render it
        setattr(operator, name, value)
    with pytest.raises(AirflowFailException, match=message):
        operator.execute(_context())
    assert _calls(onlinesim_conn) == []


@pytest.mark.parametrize(
    ("submit", "message"),
    [(None, r"submit is required"), ("not a function", r"submit='not a function' is not callable")],
)
def test_submit_must_be_a_function(submit: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _operator(submit)


# --- the rotation on the worker (poke mode) -------------------------------------------------


def test_no_code_on_any_number_fails_listing_the_attempts(onlinesim_conn: SandboxControl) -> None:
    store = TaskStateStore()
    operator = _operator(_no_service, attempts=3, timeout=120, deferrable=False)
    with pytest.raises(AirflowFailException) as failed:
        operator.execute(_context(store))
    ids = [a["id"] for a in onlinesim_conn.activations()]
    assert len(ids) == 3
    assert str(failed.value) == (
        "No code for service 'tg': 3 attempts: "
        f"activation {ids[0]} (country 44) no_code; "
        f"activation {ids[1]} (country 7) no_code; "
        f"activation {ids[2]} (country 44) no_code."
    )
    summary = onlinesim_conn.summary()
    assert (summary["cancelled"], summary["refunded"], summary["open_activations"]) == (3, "30.00", 0)
    assert RECORD not in store.values, "nothing is held, nothing left on record"


def test_one_number_at_a_time_each_cancelled_before_the_next_is_ordered(
    onlinesim_conn: SandboxControl,
) -> None:
    operator = _operator(_no_service, attempts=2, timeout=120, deferrable=False)
    with pytest.raises(AirflowFailException):
        operator.execute(_context())
    money = [
        (e["event"], e.get("activation_id"))
        for e in onlinesim_conn.ledger()
        if e["event"] in ("charge", "refund")
    ]
    first, second = (a["id"] for a in onlinesim_conn.activations())
    assert money == [("charge", first), ("refund", first), ("charge", second), ("refund", second)]


def test_the_rotation_stops_at_the_overall_deadline(onlinesim_conn: SandboxControl) -> None:
    operator = _operator(_no_service, attempts=50, attempt_timeout=1.0, timeout=2.0, deferrable=False)
    start = utcnow()
    with pytest.raises(AirflowFailException, match=r"No code for service 'tg'"):
        operator.execute(_context())
    assert len(onlinesim_conn.activations()) < 50
    assert utcnow() >= start + timedelta(seconds=2.0)
    assert onlinesim_conn.summary()["open_activations"] == 0


def test_no_numbers_left_in_any_country_fails_listing_the_attempts(onlinesim_conn: SandboxControl) -> None:
    def sold_out_after_the_first(phone: str, order: dict[str, Any]) -> None:
        onlinesim_conn.inject_fault("token", action="getNumber", count=2, token="NO_NUMBERS")
        raise NumberRejected("virtual numbers are not allowed")

    operator = _operator(sold_out_after_the_first, attempts=3, timeout=120, deferrable=False)
    with pytest.raises(
        AirflowFailException, match=r"NO_NUMBERS\)\. 1 attempt: activation \d+ \(country 44\) rejected"
    ):
        operator.execute(_context())
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def test_a_number_closed_elsewhere_fails_the_task_and_is_not_reordered(
    onlinesim_conn: SandboxControl,
) -> None:
    def closed_by_someone_else(phone: str, order: dict[str, Any]) -> None:
        OnlineSimHook().client.cancel_activation(order["activation_id"])

    operator = _operator(closed_by_someone_else, attempts=3, timeout=120, deferrable=False)
    with pytest.raises(
        AirflowFailException, match=r"is closed .* 1 attempt: activation \d+ \(country 44\) failed"
    ):
        operator.execute(_context())
    assert _calls(onlinesim_conn).count("getNumber") == 1


# --- a triggerer restart during the second attempt ------------------------------------------


def _rebuild(trigger: Any) -> Any:
    """Re-create a trigger from what the triggerer stores, as a restarted triggerer does."""
    return rebuild(*trigger.serialize())


def _deadline(store: TaskStateStore) -> datetime:
    state = RotationState.from_record(store.values[RECORD])
    assert state is not None
    return state.deadline


def test_a_triggerer_restart_in_attempt_two_orders_nothing_more_and_keeps_the_deadlines(
    onlinesim_conn: SandboxControl,
) -> None:
    store = TaskStateStore()
    operator = _operator(_no_service, attempts=3, attempt_timeout=60, timeout=600)
    with pytest.raises(TaskDeferred) as first:
        operator.execute(_context(store))
    overall = _deadline(store)
    assert first.value.trigger.deadline <= overall

    # attempt 1 gets no code: its trigger fires a timeout and the task resumes on a worker
    timeout = {"status": "timeout", "message": "timed out at the deadline"}
    with pytest.raises(TaskDeferred) as second:
        _operator(_no_service, attempts=3, attempt_timeout=60, timeout=600).execute_complete(
            _context(store), timeout
        )
    trigger = second.value.trigger
    assert _calls(onlinesim_conn).count("getNumber") == 2
    assert _deadline(store) == overall, "the overall deadline was fixed once"
    assert trigger.deadline <= overall

    asyncio.run(_run_then_drop(_rebuild(trigger), onlinesim_conn))
    restarted = _rebuild(trigger)
    assert (restarted.deadline, restarted.activation_id) == (trigger.deadline, trigger.activation_id)
    onlinesim_conn.deliver_sms(trigger.activation_id, code="424242")
    event = asyncio.run(run_to_event(restarted))

    resumed = _operator(_no_service, attempts=3, attempt_timeout=60, timeout=600)
    result = resumed.execute_complete(_context(store), event)
    first_id, second_id = (a["id"] for a in onlinesim_conn.activations())
    assert result["code"] == "424242"
    assert result["attempts"] == [
        {"activation_id": first_id, "country": "44", "outcome": "no_code"},
        {"activation_id": second_id, "country": "7", "outcome": "code"},
    ]
    assert _calls(onlinesim_conn).count("getNumber") == 2, "the restart ordered nothing"
    summary = onlinesim_conn.summary()
    assert (summary["refunded"], summary["completed"], summary["open_activations"]) == ("10.00", 1, 0)


def test_a_task_that_fails_for_good_cancels_the_number_on_record(onlinesim_conn: SandboxControl) -> None:
    store = TaskStateStore()
    operator = _operator(_no_service, attempt_timeout=60, timeout=600)
    with pytest.raises(TaskDeferred):
        operator.execute(_context(store))
    [held] = onlinesim_conn.activations()
    # Airflow fails the deferred task for good (e.g. killed): the failure callbacks run
    for callback in operator.on_failure_callback:  # type: ignore[union-attr]
        callback(_context(store))
    assert RECORD not in store.values
    assert onlinesim_conn.summary()["refunded"] == "10.00"
    assert [a["id"] for a in onlinesim_conn.activations()] == [held["id"]]


def _code_arrives_then_the_worker_dies(
    sandbox: SandboxControl, store: TaskStateStore, monkeypatch: pytest.MonkeyPatch, code: str
) -> Any:
    """Defer, deliver ``code``, then let the resumed task die before completing; return the trigger."""
    with pytest.raises(TaskDeferred) as deferred:
        _operator(_no_service, attempt_timeout=60, timeout=600).execute(_context(store))
    trigger = deferred.value.trigger
    sandbox.deliver_sms(trigger.activation_id, code=code)
    event = asyncio.run(run_to_event(trigger))
    dying = _operator(_no_service, attempt_timeout=60, timeout=600)

    def worker_dies(state: Any) -> Any:
        raise AirflowException("the worker died before completing the number")

    monkeypatch.setattr(dying, "_complete", worker_dies)
    with pytest.raises(AirflowException, match="worker died"):
        dying.execute_complete(_context(store), event)
    return trigger


def test_a_retry_after_the_code_arrived_completes_the_number_without_waiting_again(
    onlinesim_conn: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TaskStateStore()
    trigger = _code_arrives_then_the_worker_dies(onlinesim_conn, store, monkeypatch, "777777")
    calls = len(_calls(onlinesim_conn))

    result = _operator(_no_service, attempt_timeout=60, timeout=600).execute(_context(store, try_number=2))
    assert (result["activation_id"], result["code"]) == (trigger.activation_id, "777777")
    assert _calls(onlinesim_conn)[calls:] == ["setStatus"], "completed at once: no wait, no order"
    summary = onlinesim_conn.summary()
    assert (summary["orders"], summary["completed"], summary["refunded"]) == (1, 1, "0.00")


# --- end_from_trigger: the trigger completes the number that got its code and ends the task ------


def test_end_from_trigger_needs_deferrable() -> None:
    with pytest.raises(
        ValueError, match=r"end_from_trigger=True needs deferrable=True.*got deferrable=False"
    ):
        _operator(_no_service, deferrable=False, end_from_trigger=True)


def test_end_from_trigger_ends_the_task_in_the_triggerer_after_a_rotation_and_a_restart(
    onlinesim_conn: SandboxControl,
) -> None:
    store = TaskStateStore()
    settings = {"attempts": 3, "attempt_timeout": 60, "timeout": 600, "end_from_trigger": True}
    with pytest.raises(TaskDeferred):
        _operator(_no_service, **settings).execute(_context(store))
    # attempt 1 gets no code: its trigger fires a timeout, the worker cancels it and orders the next
    timeout = {"status": "timeout", "message": "timed out at the deadline"}
    operator = _operator(_no_service, **settings)
    with pytest.raises(TaskDeferred) as second:
        operator.execute_complete(_context(store), timeout)
    first_id, second_id = (a["id"] for a in onlinesim_conn.activations())
    expected = {
        "activation_id": second_id,
        "phone": onlinesim_conn.activations()[1]["phone"],
        "country": "7",
        "code": "525252",
        "attempts": [
            {"activation_id": first_id, "country": "44", "outcome": "no_code"},
            {"activation_id": second_id, "country": "7", "outcome": "code"},
        ],
    }
    assert second.value.trigger.result == {**expected, "code": None}

    restarted = _rebuild(second.value.trigger)  # a triggerer restart mid-wait
    assert restarted.deadline == second.value.trigger.deadline
    onlinesim_conn.deliver_sms(second_id, code="525252")
    [event] = asyncio.run(_collect(restarted))
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms == {**expected, "return_value": expected}, "each key is its own XCom, as on a worker"
    summary = onlinesim_conn.summary()
    assert (summary["orders"], summary["refunded"], summary["completed"], summary["open_activations"]) == (
        2,
        "10.00",
        1,
        0,
    )
    # Airflow records the success; where it runs the success callback (2.11), that forgets the record.
    for callback in operator.on_success_callback:  # type: ignore[union-attr]
        callback(_context(store))
    assert RECORD not in store.values


async def _collect(trigger: Any) -> list[Any]:
    return [event async for event in trigger.run()]


# --- failure paths: a lost record, a kill on the worker, a cleared task, a failure after the code ---


def test_resuming_without_the_record_fails_for_good_and_calls_nothing(onlinesim_conn: SandboxControl) -> None:
    timeout = {"status": "timeout", "message": "timed out at the deadline"}
    with pytest.raises(AirflowFailException, match=rf"The rotation's record {RECORD} is missing"):
        _operator(_no_service).execute_complete(_context(TaskStateStore()), timeout)
    assert _calls(onlinesim_conn) == []


def test_a_kill_while_the_worker_waits_cancels_the_number_it_holds(onlinesim_conn: SandboxControl) -> None:
    operator = _operator(_no_service, attempts=1, attempt_timeout=60, timeout=600, deferrable=False)
    held: list[int] = []

    def kill_once_a_number_is_held() -> None:
        held.append(_wait_for_a_poll(onlinesim_conn))
        operator.on_kill()  # Airflow's kill arrives while the task polls for the code

    killer = threading.Thread(target=kill_once_a_number_is_held, daemon=True)
    killer.start()
    # The poll finds the number closed, which ends the try (a kill that missed it would time out).
    with pytest.raises(
        AirflowFailException, match=r"is closed .* 1 attempt: activation \d+ \(country 44\) failed"
    ):
        operator.execute(_context())
    killer.join(timeout=60)
    assert [a["id"] for a in onlinesim_conn.activations()] == held, "nothing was ordered after the kill"
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def _wait_for_a_poll(sandbox: SandboxControl, timeout: float = 60.0) -> int:
    """Return the number the task polls for its code, once it does: the task holds it by then."""
    deadline = time.monotonic() + timeout
    while not (polls := [r for r in sandbox.requests() if r["action"] == "getStatus"]):
        assert time.monotonic() < deadline, "no number was polled"
        time.sleep(0.02)
    return int({**polls[0]["form"], **polls[0]["query"]}["id"])


def test_a_cleared_task_cancels_the_number_its_earlier_run_held_and_starts_anew(
    onlinesim_conn: SandboxControl,
) -> None:
    store = TaskStateStore()
    with pytest.raises(TaskDeferred):
        _operator(_no_service, attempt_timeout=60, timeout=600).execute(_context(store))
    [earlier] = onlinesim_conn.activations()

    cleared = _context(store, try_number=2)
    cleared["ti"].max_tries += 3  # clearing a task instance raises its max_tries (and its try number)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(_no_service, attempt_timeout=60, timeout=600).execute(cleared)
    first, second = onlinesim_conn.activations()
    assert first["id"] == earlier["id"]
    assert deferred.value.trigger.activation_id == second["id"]
    summary = onlinesim_conn.summary()
    assert (summary["orders"], summary["cancelled"], summary["refunded"]) == (2, 1, "10.00")
    assert store.values[RECORD]["order"]["activation_id"] == second["id"]


def test_a_retry_after_the_held_numbers_wait_is_over_cancels_it_and_orders_the_next(
    onlinesim_conn: SandboxControl,
) -> None:
    def the_second_number_gets_the_code(phone: str, order: dict[str, Any]) -> None:
        if len(onlinesim_conn.activations()) == 2:
            onlinesim_conn.deliver_sms(order["activation_id"], code="626262")

    store = TaskStateStore()
    with pytest.raises(TaskDeferred):
        _operator(the_second_number_gets_the_code, attempt_timeout=60, timeout=600).execute(_context(store))
    store.values[RECORD]["attempt_deadline"] = utcnow().isoformat()  # the retry comes after it
    retry = _operator(the_second_number_gets_the_code, attempt_timeout=60, timeout=600, deferrable=False)
    result = retry.execute(_context(store, try_number=2))
    first, second = (a["id"] for a in onlinesim_conn.activations())
    assert result["attempts"] == [
        {"activation_id": first, "country": "44", "outcome": "no_code"},
        {"activation_id": second, "country": "7", "outcome": "code"},
    ]
    summary = onlinesim_conn.summary()
    assert (summary["orders"], summary["refunded"], summary["completed"]) == (2, "10.00", 1)


def test_a_task_that_fails_for_good_after_the_code_completes_the_number(
    onlinesim_conn: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TaskStateStore()
    _code_arrives_then_the_worker_dies(onlinesim_conn, store, monkeypatch, "363636")
    # Airflow runs the failure callbacks in a new process, on the task as the DAG file defines it
    for callback in _operator(_no_service).on_failure_callback:  # type: ignore[union-attr]
        callback(_context(store))
    summary = onlinesim_conn.summary()
    assert (summary["completed"], summary["cancelled"], summary["refunded"]) == (1, 0, "0.00")
    assert RECORD not in store.values
