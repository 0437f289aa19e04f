"""An in-memory stand-in for Airflow 3.3's task state store, for tests that drive operators directly.

Airflow hands a task ``context["task_state_store"]`` (get / set / delete of JSON values, kept across
the tries of one task instance). Tests that call an operator's ``execute`` without a scheduler use
this one; values make a JSON round trip, as they do in Airflow's database.
"""

from __future__ import annotations

import json
from typing import Any


class TaskStateStore:
    """The task state store of one task instance: JSON values by key, kept across tries."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default``."""
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store a JSON value (``None`` is refused, as Airflow refuses it)."""
        assert value is not None, "the task state store keeps no None"
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        """Forget a value (no error when there is none)."""
        self.values.pop(key, None)
