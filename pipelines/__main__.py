"""``python -m pipelines``: see ``pipelines.cli``."""

from __future__ import annotations

from pipelines.cli import main

raise SystemExit(main())
