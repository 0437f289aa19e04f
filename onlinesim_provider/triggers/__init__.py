"""OnlineSIM triggers."""

from __future__ import annotations
