"""What sensors and triggers share: the reply decision, the one deadline, the input checks.

A neutral layer between the hook and the sensors, operators and triggers, so that none of those
imports another's private code: :mod:`~onlinesim_provider.waits.decision` (no Airflow import at
all), :mod:`~onlinesim_provider.waits.deadline` and :mod:`~onlinesim_provider.waits.inputs`.
"""

from __future__ import annotations
