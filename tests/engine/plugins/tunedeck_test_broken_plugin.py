"""A plugin module whose own import fails: it needs a package that is not installed."""
from __future__ import annotations

import tunedeck_missing_dependency_xyz  # noqa: F401


def build(config: object) -> None:
    raise AssertionError("never reached")
