"""Offline emulator of the OnlineSIM Alternative API."""

from __future__ import annotations
