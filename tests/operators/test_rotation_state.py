"""The rotation's record: what a retry reads back, the country order, the attempts' summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onlinesim_provider.operators._rotation_state import Outcome, RotationState

DEADLINE = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
ORDER = {
    "activation_id": 5,
    "phone": "447000000005",
    "country": "44",
    "expires_at": "2030-01-31T12:15:00+00:00",
}


def _tried(*countries: str | None) -> RotationState:
    state = RotationState.start(DEADLINE)
    for n, country in enumerate(countries, start=1):
        state.hold({**ORDER, "activation_id": n, "country": country}, DEADLINE)
        state.release(Outcome.NO_CODE)
    return state


def test_the_record_round_trips_through_json_values() -> None:
    state = _tried("44")
    state.hold({**ORDER, "activation_id": 9}, DEADLINE - timedelta(minutes=1))
    state.submitted = True
    back = RotationState.from_record(state.to_record())
    assert back == state
    assert back is not None
    assert back.to_record() == {
        "deadline": "2030-01-31T12:00:00+00:00",
        "attempts": [{"activation_id": 1, "country": "44", "outcome": "no_code"}],
        "order": {**ORDER, "activation_id": 9},
        "attempt_deadline": "2030-01-31T11:59:00+00:00",
        "submitted": True,
        "code": None,
    }


@pytest.mark.parametrize(
    "record",
    [None, "text", {"activation_id": 5}, {"deadline": ""}],
    ids=["nothing", "not-a-dict", "another-operators-order", "no-deadline"],
)
def test_a_record_that_is_no_rotation_gives_none(record: object) -> None:
    assert RotationState.from_record(record) is None


@pytest.mark.parametrize(
    ("tried", "countries", "expected"),
    [
        pytest.param((), ["44", "7", "380"], ["44", "7", "380"], id="first-attempt"),
        pytest.param(("44",), ["44", "7", "380"], ["7", "380", "44"], id="after-the-first"),
        pytest.param(("44", "7", "380"), ["44", "7", "380"], ["44", "7", "380"], id="wraps-around"),
        pytest.param(("7",), ["7"], ["7"], id="one-country"),
        pytest.param((None,), [None], [None], id="server-default"),
        pytest.param(("1",), ["44", "7"], ["44", "7"], id="last-country-not-in-the-list"),
    ],
)
def test_the_next_attempt_starts_after_the_last_country_used(
    tried: tuple[str | None, ...], countries: list[str | None], expected: list[str | None]
) -> None:
    assert _tried(*tried).countries_from(countries) == expected


def test_release_notes_the_outcome_and_frees_the_slot() -> None:
    state = RotationState.start(DEADLINE)
    state.hold(ORDER, DEADLINE)
    state.submitted = True
    state.release(Outcome.REJECTED)
    assert (state.order, state.attempt_deadline, state.submitted) == (None, None, False)
    assert state.attempts == [{"activation_id": 5, "country": "44", "outcome": "rejected"}]


def test_the_result_lists_every_attempt_ending_with_the_code() -> None:
    state = _tried("44")
    state.hold({**ORDER, "activation_id": 2, "country": "7", "phone": "79000000002"}, DEADLINE)
    state.code = "123456"
    assert RotationState.from_record(state.to_record()) == state
    assert state.result() == {
        "activation_id": 2,
        "phone": "79000000002",
        "country": "7",
        "code": "123456",
        "attempts": [
            {"activation_id": 1, "country": "44", "outcome": "no_code"},
            {"activation_id": 2, "country": "7", "outcome": "code"},
        ],
    }


@pytest.mark.parametrize(
    ("tried", "text"),
    [
        ((), "no number was tried"),
        (("44",), "1 attempt: activation 1 (country 44) no_code"),
        (
            ("44", None),
            "2 attempts: activation 1 (country 44) no_code; activation 2 (country default) no_code",
        ),
    ],
)
def test_describe_lists_the_attempts(tried: tuple[str | None, ...], text: str) -> None:
    assert _tried(*tried).describe() == text
