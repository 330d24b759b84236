"""The handoff from tunedeck to a script it launches: one JSON file, named by one environment variable."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRIAL_VAR = "TUNEDECK_TRIAL"  # the path of the handoff file, in the script's environment
HANDOFF_NAME = "trial.json"  # in the trial's artifacts folder


@dataclass(frozen=True)
class Handoff:
    store: str  # absolute path of the store
    trial_id: int
    config: dict[str, Any] = field(hash=False)  # the trial's config, as Config.to_dict() gives it
    metric: str | None = None  # a sweep's objective metric, whose last logged value its pruner judges
    direction: str | None = None  # minimize / maximize

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / HANDOFF_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str | Path) -> Handoff:
        """The handoff a launched script finds; ValueError names the file when it is unusable."""
        try:
            data = json.loads(Path(path).read_text())
            return cls(str(data["store"]), int(data["trial_id"]), dict(data["config"]), data.get("metric"),
                       data.get("direction"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} (from ${TRIAL_VAR}): not a tunedeck trial handoff: {exc}") from None
