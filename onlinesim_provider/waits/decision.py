"""When is a wait over? One pure answer for poke, reschedule and deferrable modes.

:func:`decide` turns one API reply (or the error raised instead of it) into a :class:`Decision`:
keep waiting, done with a result, or failed with a reason. :func:`apply_deadline` adds the one deadline.
The sensors' ``poke()``, the triggers' ``run()`` and the sensors' ``execute_complete()`` all go
through these functions and through :meth:`Decision.to_event` / :meth:`Decision.from_event`, so
the same reply means the same thing in every mode. Pure: this module imports nothing from Airflow
(an import-linter contract keeps it so), which is why the triggerer and tests can use it bare.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from onlinesim_provider.api.errors import OnlineSimError, TransientError
from onlinesim_provider.api.models import ActivationState, ActivationStatus, FullSms, RentStatus

if TYPE_CHECKING:
    from onlinesim_provider.api.models import RentMessage

__all__ = [
    "EVENT_ERROR",
    "EVENT_STATUSES",
    "EVENT_SUCCESS",
    "EVENT_TIMEOUT",
    "Decision",
    "Outcome",
    "RentSmsWait",
    "SmsWait",
    "WaitFor",
    "compile_pattern",
    "decide",
    "decide_error",
    "apply_deadline",
    "match_rent_message",
    "rent_message_payload",
]

WaitFor = Literal["code", "full_sms"]

#: The fixed ``status`` vocabulary of trigger events.
EVENT_SUCCESS = "success"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"
EVENT_STATUSES = (EVENT_SUCCESS, EVENT_TIMEOUT, EVENT_ERROR)


class Outcome(enum.StrEnum):
    """Where a wait stands after one reply."""

    WAIT = "wait"
    DONE = "done"
    FAIL = "fail"
    TIMEOUT = "timeout"


_EVENT_OF = {Outcome.DONE: EVENT_SUCCESS, Outcome.TIMEOUT: EVENT_TIMEOUT, Outcome.FAIL: EVENT_ERROR}
_OUTCOME_OF = {status: outcome for outcome, status in _EVENT_OF.items()}


@dataclass(frozen=True)
class Decision:
    """The verdict on one reply: keep waiting, done (with the XCom payload), failed or timed out.

    :param outcome: where the wait stands.
    :param payload: the plain JSON result, for ``DONE`` only.
    :param reason: why it failed, timed out or keeps waiting despite an error (for logs).
    """

    outcome: Outcome
    payload: dict[str, Any] | None = None
    reason: str = ""

    @property
    def is_final(self) -> bool:
        """Return True once the wait is over, one way or the other."""
        return self.outcome is not Outcome.WAIT

    def to_event(self) -> dict[str, Any]:
        """Return the trigger event payload for a final decision (plain JSON)."""
        if not self.is_final:
            raise ValueError("a trigger fires only once the wait is over, not on WAIT")
        if self.outcome is Outcome.DONE:
            return {"status": EVENT_SUCCESS, "result": self.payload}
        return {"status": _EVENT_OF[self.outcome], "message": self.reason}

    @classmethod
    def from_event(cls, event: dict[str, Any] | None) -> Decision:
        """Rebuild the decision a trigger sent; an unknown event is a failure, never a success.

        :param event: the payload of the trigger event.
        """
        status = (event or {}).get("status")
        outcome = _OUTCOME_OF.get(status) if isinstance(status, str) else None
        if event is None or outcome is None:
            return cls(Outcome.FAIL, reason=f"unexpected trigger event {event!r}")
        if outcome is Outcome.DONE:
            return cls(Outcome.DONE, payload=event.get("result"))
        return cls(outcome, reason=str(event.get("message", "")))


WAIT = Decision(Outcome.WAIT)


@dataclass(frozen=True)
class SmsWait:
    """What an activation wait is waiting for.

    :param activation_id: the activation to watch.
    :param wait_for: ``"code"`` (``getStatus``) or ``"full_sms"`` (``getFullSms``, the whole text).
    :param code_pattern: with ``full_sms``, a regex whose named group ``code`` extracts the code.
    :param expect_new_code: after ``request_another_code``: ``STATUS_WAIT_RETRY`` keeps waiting.
    """

    activation_id: int
    wait_for: WaitFor = "code"
    code_pattern: str | None = None
    expect_new_code: bool = False


@dataclass(frozen=True)
class RentSmsWait:
    """What a rent wait is waiting for.

    :param rent_id: the rent to watch.
    :param sender: matches a message whose ``phoneFrom`` or ``service`` equals or contains it
        (case-insensitive).
    :param text_pattern: a regex the text must contain; a named group ``code`` fills ``code``.
    :param received_after: only messages dated at or after this instant count (to the second,
        as the API dates them).
    """

    rent_id: int
    sender: str | None = None
    text_pattern: str | None = None
    received_after: datetime | None = None


def compile_pattern(pattern: str, *, name: str, require_code_group: bool) -> re.Pattern[str]:
    """Compile a user regex, or raise ``ValueError`` naming the argument and what was expected.

    :param pattern: the regex.
    :param name: the argument name, for the message.
    :param require_code_group: whether a named group ``code`` is required.
    """
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ValueError(f"{name}={pattern!r} is not a valid regular expression: {exc}") from None
    if require_code_group and "code" not in compiled.groupindex:
        raise ValueError(
            f"{name}={pattern!r} has no named group 'code'; expected e.g. r'code is (?P<code>\\d{{4,8}})'"
        )
    return compiled


def decide(reply: ActivationStatus | FullSms | RentStatus, wait: SmsWait | RentSmsWait) -> Decision:
    """Return the verdict on one reply.

    :param reply: the parsed reply of ``getStatus``, ``getFullSms`` or ``getRentStatus``.
    :param wait: what is being waited for.
    """
    if isinstance(wait, RentSmsWait):
        if not isinstance(reply, RentStatus):
            raise TypeError(f"a rent wait needs a RentStatus reply, got {type(reply).__name__}")
        return _decide_rent(reply, wait)
    if isinstance(reply, RentStatus):
        raise TypeError("an activation wait needs an ActivationStatus or FullSms reply, got RentStatus")
    return _decide_activation(reply, wait)


def decide_error(error: OnlineSimError, doing: str) -> Decision:
    """Return the verdict on an error raised instead of a reply: transient waits, fatal fails.

    A fatal error's reason is ``"<doing> failed: <message>"``, the text the hook's
    :func:`~onlinesim_provider.hooks.onlinesim.airflow_error` gives the same error, so a deferred
    wait fails with the same text as a poking one. A wait only reads, so an order whose outcome
    is unknown never reaches here.

    :param error: the error the client raised.
    :param doing: what the wait was doing, e.g. ``"waiting for an SMS code on activation 5"``.
    """
    if isinstance(error, TransientError):
        return Decision(Outcome.WAIT, reason=f"{doing}: transient error, still waiting: {error}")
    return Decision(Outcome.FAIL, reason=f"{doing} failed: {error.message}")


def apply_deadline(decision: Decision, now: datetime, deadline: datetime) -> Decision:
    """Turn a WAIT at or past the deadline into TIMEOUT; other decisions pass through.

    :param decision: the verdict on the latest reply.
    :param now: the current time (aware).
    :param deadline: the wait's one absolute deadline (aware).
    """
    if decision.outcome is not Outcome.WAIT or now < deadline:
        return decision
    return Decision(Outcome.TIMEOUT, reason=f"timed out at the deadline {deadline.isoformat()}")


def _decide_activation(reply: ActivationStatus | FullSms, wait: SmsWait) -> Decision:
    state = reply.state
    if state is ActivationState.CANCEL:
        return Decision(
            Outcome.FAIL,
            reason=f"activation {wait.activation_id} is closed (cancelled, completed or expired)",
        )
    if state is ActivationState.WAIT_RETRY and wait.expect_new_code:
        return WAIT
    if state not in (ActivationState.OK, ActivationState.WAIT_RETRY):
        return WAIT
    if isinstance(reply, ActivationStatus):
        if reply.code is None:
            return WAIT
        return _sms_done(wait, code=reply.code, text=None)
    if reply.text is None:
        return WAIT
    code = None
    if wait.code_pattern is not None:
        match = re.search(wait.code_pattern, reply.text)
        if match is None:
            return Decision(Outcome.WAIT, reason="the SMS does not match code_pattern; still waiting")
        code = match.group("code")
    return _sms_done(wait, code=code, text=reply.text)


def _sms_done(wait: SmsWait, *, code: str | None, text: str | None) -> Decision:
    return Decision(Outcome.DONE, payload={"activation_id": wait.activation_id, "code": code, "text": text})


def _decide_rent(reply: RentStatus, wait: RentSmsWait) -> Decision:
    for message in reply.messages:
        code = match_rent_message(message, wait)
        if code is not False:
            return Decision(Outcome.DONE, payload=rent_message_payload(wait.rent_id, message, code))
    return WAIT


def rent_message_payload(rent_id: int, message: RentMessage, code: str | None) -> dict[str, Any]:
    """Return a counted message as plain JSON, as sensors return it and event triggers send it.

    The keys are ``rent_id``, ``phone_from``, ``text``, ``service``, ``date`` and ``code``.

    :param rent_id: the rent that received it.
    :param message: the message.
    :param code: what the pattern's ``code`` group extracted, if anything.
    """
    return {"rent_id": rent_id, **message.to_dict(), "code": code}


def match_rent_message(message: RentMessage, wait: RentSmsWait) -> str | Literal[False] | None:
    """Return False when the message does not count for ``wait``, else the extracted code (or None).

    A notice (``service == "notify"``) never counts, nor a message dated before
    ``received_after``, from another sender, or not matching the pattern.

    :param message: one message of the rent.
    :param wait: what counts.
    """
    if message.is_notice:
        return False
    if wait.received_after is not None and message.date is not None:
        # The API dates messages to the second: a message of the same second as the start counts.
        date = message.date if message.date.tzinfo else message.date.replace(tzinfo=UTC)
        if date < wait.received_after.replace(microsecond=0):
            return False
    if wait.sender is not None:
        needle = wait.sender.casefold()
        if needle not in message.phone_from.casefold() and needle not in message.service.casefold():
            return False
    if wait.text_pattern is None:
        return None
    match = re.search(wait.text_pattern, message.text)
    if match is None:
        return False
    return match.groupdict().get("code")
