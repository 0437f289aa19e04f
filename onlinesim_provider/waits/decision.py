"""When is a wait over? One pure answer for poke, reschedule, deferrable and start-from-trigger waits.

:func:`decide` turns one reply (or :func:`decide_error` the error raised instead) into a
:class:`Decision`; :func:`apply_deadline` adds the one deadline; a trigger sends the decision as
its event (:meth:`Decision.to_event`) and the sensor reads it back (:meth:`Decision.from_event`),
so the same reply means the same thing in every mode. No Airflow import (a contract keeps it so).
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
    "Decision",
    "Outcome",
    "RentSmsWait",
    "SmsWait",
    "WaitFor",
    "apply_deadline",
    "compile_pattern",
    "decide",
    "decide_error",
    "match_rent_message",
    "rent_message_payload",
]

WaitFor = Literal["code", "full_sms"]


class Outcome(enum.StrEnum):
    """Where a wait stands after one reply; the value is the ``status`` of a trigger's event."""

    WAIT = "wait"
    DONE = "success"
    TIMEOUT = "timeout"
    FAIL = "error"


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
        """Return the payload of the trigger event that reports this final decision."""
        if not self.is_final:
            raise ValueError("a trigger fires only once the wait is over, not on WAIT")
        if self.outcome is Outcome.DONE:
            return {"status": self.outcome.value, "result": self.payload}
        return {"status": self.outcome.value, "message": self.reason}

    @classmethod
    def from_event(cls, event: dict[str, Any] | None) -> Decision:
        """Rebuild the decision a trigger sent; an unknown event is a failure, never a success.

        :param event: the payload of the trigger event.
        """
        try:
            outcome = Outcome(str((event or {}).get("status")))
        except ValueError:
            outcome = Outcome.WAIT
        if event is None or outcome is Outcome.WAIT:
            return cls(Outcome.FAIL, reason=f"unexpected trigger event {event!r}")
        if outcome is Outcome.DONE:
            return cls(outcome, payload=event.get("result"))
        return cls(outcome, reason=str(event.get("message", "")))


WAIT = Decision(Outcome.WAIT)


@dataclass(frozen=True)
class SmsWait:
    """What an activation wait is waiting for.

    :param activation_id: the activation to watch.
    :param wait_for: ``"code"`` (``getStatus``) or ``"full_sms"`` (``getFullSms``, the whole text).
    :param code_pattern: with ``full_sms``, a regex whose named group ``code`` extracts the code.
    """

    activation_id: int
    wait_for: WaitFor = "code"
    code_pattern: str | None = None


@dataclass(frozen=True)
class RentSmsWait:
    """What a rent wait is waiting for.

    :param rent_id: the rent to watch.
    :param sender: matches a message whose ``phoneFrom`` or ``service`` contains it (any case).
    :param text_pattern: a regex the text must contain; a named group ``code`` fills ``code``.
    :param received_after: only messages dated at or after this instant count (to the second, as
        the API dates them).
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
    if isinstance(wait, RentSmsWait) is not isinstance(reply, RentStatus):
        raise TypeError(f"a rent wait reads RentStatus, an activation wait not; got {type(reply).__name__}")
    if isinstance(wait, RentSmsWait):
        assert isinstance(reply, RentStatus)
        for message in reply.messages:
            code = match_rent_message(message, wait)
            if code is not False:
                return Decision(Outcome.DONE, payload=rent_message_payload(wait.rent_id, message, code))
        return WAIT
    assert not isinstance(reply, RentStatus)
    if reply.state is ActivationState.CANCEL:
        reason = f"activation {wait.activation_id} is closed (cancelled, completed or expired)"
        return Decision(Outcome.FAIL, reason=reason)
    # STATUS_WAIT_RETRY says the server waits for the next code: the last one was superseded.
    if reply.state is not ActivationState.OK:
        return WAIT
    code, text = (reply.code, None) if isinstance(reply, ActivationStatus) else (None, reply.text)
    if text is not None and wait.code_pattern is not None:
        match = re.search(wait.code_pattern, text)
        if match is None:
            return Decision(Outcome.WAIT, reason="the SMS does not match code_pattern; still waiting")
        code = match.group("code")
    if code is None and text is None:
        return WAIT
    return Decision(Outcome.DONE, payload={"activation_id": wait.activation_id, "code": code, "text": text})


def decide_error(error: OnlineSimError, doing: str) -> Decision:
    """Return the verdict on an error raised instead of a reply: transient waits, fatal fails.

    A fatal error's reason is the text the hook's ``airflow_error`` gives the same error, so a
    deferred wait fails with the same text as a poking one.

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


def rent_message_payload(rent_id: int, message: RentMessage, code: str | None) -> dict[str, Any]:
    """Return a counted message as plain JSON: ``rent_id``, the message's fields and ``code``.

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
    return False if match is None else match.groupdict().get("code")
