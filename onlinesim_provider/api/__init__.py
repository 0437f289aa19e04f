"""The OnlineSIM Alternative API: models, errors, protocol and clients. Imports nothing from Airflow."""

from __future__ import annotations
