"""Where a number rotation stands, as one plain JSON record: the task's paid-order record.

The record holds the overall deadline (fixed once, when the rotation starts), the attempts that
are over, and the number held now with its attempt's deadline and whether it was handed to the
service yet. A retry of the task reads it back and carries on from there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onlinesim_provider.waits.inputs import instant

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Outcome", "RotationState"]


class Outcome(enum.StrEnum):
    """How one attempt of a rotation ended."""

    CODE = "code"
    NO_CODE = "no_code"
    REJECTED = "rejected"
    ERROR = "error"
    FAILED = "failed"


@dataclass
class RotationState:
    """A rotation's progress.

    :param deadline: the end of the whole rotation (aware).
    :param attempts: the attempts that are over: ``{"activation_id", "country", "outcome"}``.
    :param order: the number held now (the ordering result as a JSON dict), if any.
    :param attempt_deadline: when the held number's wait ends (aware).
    :param submitted: whether the held number was handed to the service.
    :param code: the code the held number received, once it did (the number is then completed).
    """

    deadline: datetime
    attempts: list[dict[str, Any]] = field(default_factory=list)
    order: dict[str, Any] | None = None
    attempt_deadline: datetime | None = None
    submitted: bool = False
    code: str | None = None

    @classmethod
    def start(cls, deadline: datetime) -> RotationState:
        """Return a rotation that has tried nothing yet.

        :param deadline: the end of the whole rotation.
        """
        return cls(deadline)

    @classmethod
    def from_record(cls, record: object) -> RotationState | None:
        """Return the rotation a record describes, or ``None`` when there is no such record.

        :param record: what the task's record slot held.
        """
        if not isinstance(record, dict) or "deadline" not in record:
            return None
        deadline = instant("deadline", record["deadline"])
        if deadline is None:
            return None
        return cls(
            deadline=deadline,
            attempts=list(record.get("attempts") or []),
            order=record.get("order"),
            attempt_deadline=instant("attempt_deadline", record.get("attempt_deadline")),
            submitted=bool(record.get("submitted")),
            code=record.get("code"),
        )

    def to_record(self) -> dict[str, Any]:
        """Return the record to store (plain JSON values, no secret)."""
        return {
            "deadline": self.deadline.isoformat(),
            "attempts": self.attempts,
            "order": self.order,
            "attempt_deadline": self.attempt_deadline_iso,
            "submitted": self.submitted,
            "code": self.code,
        }

    @property
    def attempt_deadline_iso(self) -> str | None:
        """Return the held number's deadline as ISO 8601, if a number is held."""
        return None if self.attempt_deadline is None else self.attempt_deadline.isoformat()

    def hold(self, order: dict[str, Any], attempt_deadline: datetime) -> None:
        """Take a freshly ordered number.

        :param order: the ordering result.
        :param attempt_deadline: when its wait ends.
        """
        self.order, self.attempt_deadline, self.submitted, self.code = order, attempt_deadline, False, None

    def release(self, outcome: Outcome) -> None:
        """Let the held number go (it was cancelled) and note how its attempt ended.

        :param outcome: how the attempt ended.
        """
        assert self.order is not None
        self.attempts.append(_attempt(self.order, outcome))
        self.order, self.attempt_deadline, self.submitted = None, None, False

    def result(self) -> dict[str, Any]:
        """Return the task's result for the held number, which got :attr:`code`."""
        assert self.order is not None
        return {
            "activation_id": self.order["activation_id"],
            "phone": self.order["phone"],
            "country": self.order["country"],
            "code": self.code,
            "attempts": [*self.attempts, _attempt(self.order, Outcome.CODE)],
        }

    def countries_from(self, countries: list[str | None]) -> list[str | None]:
        """Return ``countries`` in the order to try next: from the one after the last used.

        :param countries: the operator's country list.
        """
        if not self.attempts or self.attempts[-1]["country"] not in countries:
            return countries
        after = countries.index(self.attempts[-1]["country"]) + 1
        return countries[after:] + countries[:after]

    def describe(self) -> str:
        """Return the attempts for a message, e.g. ``1 attempt: activation 5 (country 7) no_code``."""
        if not self.attempts:
            return "no number was tried"
        tried = "; ".join(
            f"activation {a['activation_id']} (country {a['country'] or 'default'}) {a['outcome']}"
            for a in self.attempts
        )
        return f"{len(self.attempts)} attempt{'s' if len(self.attempts) != 1 else ''}: {tried}"


def _attempt(order: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    return {"activation_id": order["activation_id"], "country": order["country"], "outcome": str(outcome)}
