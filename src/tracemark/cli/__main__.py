"""``python -m tracemark.cli``: the same as the ``tracemark`` command."""

from __future__ import annotations

import sys

from tracemark.cli import main

sys.exit(main())
