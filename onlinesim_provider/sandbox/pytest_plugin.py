"""Pytest plugin (a ``pytest11`` entry point): the ``onlinesim_sandbox`` fixture and marker.

It loads in every pytest run of every user, so it imports nothing here: pytest loads the
fixtures from :mod:`onlinesim_provider.sandbox.fixtures` with it, and those import the server
only when a test asks for one.
"""

from __future__ import annotations

pytest_plugins = ["onlinesim_provider.sandbox.fixtures"]
