"""The staging run's evidence: pictures an approver reads at a glance (README.md, "Evidence").

Rendered headless with matplotlib's Agg canvas (a ``Figure`` of its own, never pyplot's
global state), as small PNGs a phone shows legibly: large type, no legend over data, each
with a one-sentence alt text that states the numbers. Logged as MLflow artifacts of the
staging run (experiment ``iris-staging``) and sent with the submission.

1. the latency distribution of the latency test, its p99 and the threshold marked;
2. the confusion matrices of champion and challenger on the same test split, side by side
   (the challenger alone, titled so, on a first promotion);
3. the shadow test's disagreement per true class (not on a first promotion: there is
   nothing to disagree with).
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGING_EXPERIMENT = "iris-staging"
MAX_BYTES = 200 * 1024  # each picture (the bot takes up to 1 MiB)
SIZE_INCHES = (8.0, 5.0)
DPI = 100  # 800×500 px: sharp on a phone, small on the wire
FONT = 16
CLASS_NAMES = ("setosa", "versicolor", "virginica")


@dataclass(frozen=True)
class Picture:
    name: str  # its file name in the run's artifacts, under evidence/
    png: bytes
    alt: str

    def as_evidence(self) -> dict[str, str]:
        """As the bot's API takes it (``evidence[]`` of ``POST /api/v1/approvals``)."""
        return {"data": base64.b64encode(self.png).decode("ascii"), "alt": self.alt}


def _figure(ncols: int = 1) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.set_facecolor("white")
    return figure, figure.subplots(1, ncols, squeeze=False)[0]


def _png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    data = out.getvalue()
    if len(data) > MAX_BYTES:
        raise ValueError(f"an evidence picture of {len(data)} bytes is over {MAX_BYTES}")
    return data


def latency(latencies_ms: list[float], p99: float, threshold: float) -> Picture:
    """On a log scale, so that a distribution far below its threshold still has a shape."""
    import numpy as np

    figure, (ax,) = _figure()
    values = [max(v, 1e-3) for v in latencies_ms] or [p99]
    low, high = min(values) / 1.2, max(max(values), threshold, p99) * 1.5
    ax.hist(values, bins=np.geomspace(low, max(values) * 1.01, 25), color="#4c78a8")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.axvline(p99, color="#e45756", linewidth=3)
    ax.axvline(threshold, color="#222222", linewidth=3, linestyle="--")
    top = ax.get_ylim()[1]
    ax.text(p99, top * 0.95, f" p99 {p99:.2f} ms", color="#e45756", fontsize=FONT, va="top")
    ax.text(threshold, top * 0.8, f"limit\n{threshold:g} ms ", fontsize=FONT, va="top", ha="right")
    ax.set_xlabel("latency of one prediction (ms, log scale)", fontsize=FONT)
    ax.set_ylabel("predictions", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 2)
    passed = "within" if p99 <= threshold else "over"
    ax.set_title(f"Latency: p99 {p99:.2f} ms, {passed} the {threshold:g} ms limit", fontsize=FONT)
    alt = (
        f"Latency of {len(latencies_ms)} single-row predictions: p99 {p99:.2f} ms, "
        f"{passed} the {threshold:g} ms threshold."
    )
    return Picture("latency.png", _png(figure), alt)


def _matrix(ax: Any, matrix: list[list[int]], title: str) -> None:
    size = len(matrix)
    peak = max((max(row) for row in matrix), default=1) or 1
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=peak)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            colour = "white" if value > peak / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", fontsize=FONT + 2, color=colour)
    names = list(CLASS_NAMES[:size])
    ax.set_xticks(range(size), names, fontsize=FONT - 4)
    ax.set_yticks(range(size), names, fontsize=FONT - 4)
    ax.set_xlabel("predicted", fontsize=FONT - 2)
    ax.set_ylabel("true", fontsize=FONT - 2)
    ax.set_title(title, fontsize=FONT)


def _accuracy(matrix: list[list[int]]) -> float:
    total = sum(sum(row) for row in matrix)
    return sum(matrix[i][i] for i in range(len(matrix))) / total if total else 0.0


def confusion(challenger: list[list[int]], champion: list[list[int]] | None) -> Picture:
    challenger_acc = _accuracy(challenger)
    if champion is None:
        figure, (ax,) = _figure()
        _matrix(ax, challenger, f"Challenger alone (no champion yet): {challenger_acc:.1%}")
        alt = (
            f"Confusion matrix of the challenger alone (first promotion, no champion yet): "
            f"accuracy {challenger_acc:.2%} on {sum(map(sum, challenger))} test rows."
        )
        return Picture("confusion.png", _png(figure), alt)
    champion_acc = _accuracy(champion)
    figure, (left, right) = _figure(2)
    _matrix(left, champion, f"Champion {champion_acc:.1%}")
    _matrix(right, challenger, f"Challenger {challenger_acc:.1%}")
    alt = (
        f"Confusion matrices on the same {sum(map(sum, challenger))} test rows: champion "
        f"accuracy {champion_acc:.2%}, challenger {challenger_acc:.2%}."
    )
    return Picture("confusion.png", _png(figure), alt)


def disagreement(per_class: list[float], rate: float, threshold: float) -> Picture:
    figure, (ax,) = _figure()
    names = list(CLASS_NAMES[: len(per_class)])
    ax.bar(names, per_class, color="#f58518")
    ax.axhline(threshold, color="#222222", linewidth=3, linestyle="--")
    ax.text(-0.4, threshold, f"limit {threshold:g}", fontsize=FONT, va="bottom")
    for i, value in enumerate(per_class):
        ax.text(i, value, f"{value:.3f}", ha="center", va="bottom", fontsize=FONT)
    ax.set_ylim(0, max(threshold, *per_class) * 1.3)
    ax.set_ylabel("share of rows where they differ", fontsize=FONT - 2)
    ax.tick_params(labelsize=FONT - 2)
    ax.set_title(f"Shadow test: disagreement {rate:.3f} (limit {threshold:g})", fontsize=FONT)
    shown = ", ".join(f"{n} {v:.3f}" for n, v in zip(names, per_class, strict=True))
    alt = (
        f"Champion and challenger disagree on {rate:.2%} of test rows "
        f"(threshold {threshold:g}); by true class: {shown}."
    )
    return Picture("disagreement.png", _png(figure), alt)


def render(
    latencies_ms: str, comparison: str, *, p99: float, p99_max: float, disagreement_max: float
) -> list[Picture]:
    """The pictures of one staging run, from the latency and shadow tests' outputs (JSON)."""
    shown = json.loads(comparison)
    pictures = [
        latency(json.loads(latencies_ms), p99, p99_max),
        confusion(shown["challenger"], shown.get("champion")),
    ]
    if shown.get("champion") is not None:
        pictures.append(disagreement(shown["per_class"], shown["rate"], disagreement_max))
    return pictures


def log_to_mlflow(
    pictures: list[Picture], *, staging_run_id: str, model_name: str, model_version: str
) -> str:
    """One MLflow run of experiment ``iris-staging`` holding the pictures under evidence/
    (and their alt texts in evidence/alt.json); its run id."""
    import mlflow

    mlflow.set_experiment(STAGING_EXPERIMENT)
    tags = {"kfp.run_id": staging_run_id, "model_name": model_name, "model_version": model_version}
    with mlflow.start_run(run_name=f"staging-{model_name}-v{model_version}", tags=tags) as run:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for p in pictures:
                (folder / p.name).write_bytes(p.png)
            (folder / "alt.json").write_text(json.dumps({p.name: p.alt for p in pictures}))
            mlflow.log_artifacts(str(folder), artifact_path="evidence")
        return str(run.info.run_id)
