"""Benchmarks of the provider against the generic alternatives (``make bench``).

Every figure is measured in one run, side by side with its baselines on the same machine and the
same sandbox, and reported as a ratio: absolute numbers depend on the machine, ratios much less.
``python -m benchmarks`` prints one table; ``python -m benchmarks --help`` lists the options.
"""

from __future__ import annotations
