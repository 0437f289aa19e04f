"""``python -m onlinesim_provider.sandbox``: same as the ``onlinesim-sandbox`` command."""

from __future__ import annotations

import sys

from onlinesim_provider.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
