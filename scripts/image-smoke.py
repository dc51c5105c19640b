"""Run two KFP components of the data pipeline inside the image, by their compiled command.

Used by scripts/offline-image-build.sh (``python3 /scripts/image-smoke.py`` in the built image).
kfp.local's SubprocessRunner runs each component's own container command (``sh -ec ...
python3 -m kfp.dsl.executor_main ...``, no pip install since ``install_kfp_package=False``),
as a KFP pod would in this image: load_data writes the iris dataset artifact, validate_data
reads it and checks it. Neither needs MLflow. Exits non-zero with a message on any difference.
No ``from __future__ import annotations``: KFP reads the return annotation at decoration time.
"""

import json
import sys
import tempfile
import warnings
from typing import NamedTuple


class Outputs(NamedTuple):
    rows: int
    checks: str


def main() -> int:
    from kfp import dsl, local

    from pipelines import components

    warnings.filterwarnings("ignore", message=".*non-Python base image.*")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=tempfile.mkdtemp(prefix="kfp-root-"),
        workspace_root=tempfile.mkdtemp(prefix="kfp-workspace-"),
        raise_on_error=True,
    )

    @dsl.pipeline(name="image-smoke")
    def smoke() -> Outputs:
        loaded = components.load_data(source_csv="")
        validated = components.validate_data(dataset=loaded.outputs["dataset"])
        return Outputs(rows=loaded.outputs["Output"], checks=validated.output)

    result = smoke().outputs
    rows, checks = result["rows"], json.loads(result["checks"])
    print(json.dumps({"rows": rows, "checks": sorted(checks)}))
    if rows != 150 or not {"schema", "nulls", "ranges", "rows"} <= set(checks):
        print(f"image smoke test: unexpected outputs rows={rows} checks={checks}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
