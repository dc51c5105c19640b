"""The iris dataset as a pandas frame: loading, validation checks, hashing and the split.

Pure functions over data frames (no MLflow, no network) so they are cheap to test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

FEATURES: tuple[str, ...] = (
    "sepal_length_cm",
    "sepal_width_cm",
    "petal_length_cm",
    "petal_width_cm",
)
TARGET = "species"
COLUMNS: tuple[str, ...] = (*FEATURES, TARGET)
CLASSES: tuple[int, ...] = (0, 1, 2)  # setosa, versicolor, virginica (load_iris order)

# Plausible measurement ranges in cm (closed intervals): the iris data spans
# 4.3-7.9 / 2.0-4.4 / 1.0-6.9 / 0.1-2.5, widened by roughly 10 %. A value outside is a
# unit or entry error, not a flower.
FEATURE_RANGES: dict[str, tuple[float, float]] = {
    "sepal_length_cm": (3.5, 9.0),
    "sepal_width_cm": (1.5, 5.0),
    "petal_length_cm": (0.5, 7.5),
    "petal_width_cm": (0.05, 3.0),
}
MIN_ROWS = 30
MIN_ROWS_PER_CLASS = 5  # the stratified 80/20 split needs each class in both parts

TEST_SIZE = 0.2
RANDOM_STATE = 42


def load_iris_frame() -> pd.DataFrame:
    """Iris from scikit-learn (bundled, no download) with our column names."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame.columns = list(COLUMNS)
    return frame


def read_csv(source: str) -> pd.DataFrame:
    """A CSV (path or URL readable by pandas) with the iris columns."""
    import pandas as pd

    return pd.read_csv(source)


def load_frame(source: str = "") -> pd.DataFrame:
    """``source`` empty: scikit-learn's iris; otherwise the CSV at ``source``."""
    return read_csv(source) if source else load_iris_frame()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named validation check."""

    name: str
    passed: bool
    detail: str


def check_schema(frame: pd.DataFrame) -> CheckResult:
    """Exactly the expected columns; numeric features; an integer-valued target."""
    import pandas as pd

    problems: list[str] = []
    missing = [c for c in COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    for column in (c for c in COLUMNS if c in frame.columns):
        if not pd.api.types.is_numeric_dtype(frame[column]):
            problems.append(f"column {column!r} is {frame[column].dtype}, not numeric")
        elif column == TARGET:
            values = frame[column].dropna()
            if not (values == values.round()).all():
                problems.append(f"column {column!r} has non-integer class labels")
    return CheckResult(
        "schema", not problems, "; ".join(problems) or "columns and types as expected"
    )


def check_nulls(frame: pd.DataFrame) -> CheckResult:
    """No missing value anywhere."""
    counts = frame[list(COLUMNS)].isna().sum()
    bad = {str(column): int(count) for column, count in counts.items() if count}
    if bad:
        return CheckResult("nulls", False, f"{sum(bad.values())} null value(s): {bad}")
    return CheckResult("nulls", True, "no null values")


def check_ranges(frame: pd.DataFrame) -> CheckResult:
    """Every feature inside its plausible range; every label one of the known classes."""
    problems: list[str] = []
    for column, (low, high) in FEATURE_RANGES.items():
        values = frame[column].dropna()
        outside = values[(values < low) | (values > high)]
        if len(outside):
            problems.append(
                f"{column}: {len(outside)} value(s) outside [{low}, {high}] "
                f"(min {values.min()}, max {values.max()})"
            )
    labels = frame[TARGET].dropna()
    unknown = sorted({float(v) for v in labels} - {float(c) for c in CLASSES})
    if unknown:
        problems.append(f"{TARGET}: unknown class label(s) {unknown[:5]}, expected {list(CLASSES)}")
    return CheckResult("ranges", not problems, "; ".join(problems) or "all values in range")


def check_rows(frame: pd.DataFrame) -> CheckResult:
    """Enough rows overall and per class for a stratified train/test split."""
    problems: list[str] = []
    if len(frame) < MIN_ROWS:
        problems.append(f"{len(frame)} rows, need at least {MIN_ROWS}")
    counts = frame[TARGET].value_counts()
    for label in CLASSES:
        count = int(counts.get(label, 0))
        if count < MIN_ROWS_PER_CLASS:
            problems.append(f"class {label} has {count} rows, need at least {MIN_ROWS_PER_CLASS}")
    return CheckResult("rows", not problems, "; ".join(problems) or f"{len(frame)} rows")


def run_checks(frame: pd.DataFrame) -> list[CheckResult]:
    """All checks in order; after a schema failure the others are not meaningful and are skipped."""
    schema = check_schema(frame)
    if not schema.passed:
        return [schema]
    return [schema, check_nulls(frame), check_ranges(frame), check_rows(frame)]


def validate(frame: pd.DataFrame) -> list[CheckResult]:
    """Run every check; raise ``DataValidationError`` naming each failed check."""
    results = run_checks(frame)
    failures = [(r.name, r.detail) for r in results if not r.passed]
    if failures:
        raise DataValidationError(failures)
    return results


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """A validated frame in canonical column order and dtypes (float features, int target)."""
    result = frame[list(COLUMNS)].copy()
    result[list(FEATURES)] = result[list(FEATURES)].astype("float64")
    result[TARGET] = result[TARGET].astype("int64")
    return result.reset_index(drop=True)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    """The stratified train/test split every pipeline uses."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split(frame: pd.DataFrame) -> Split:
    """Stratified 80/20 split with a fixed seed, so training and staging see the same test rows."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        frame[list(FEATURES)],
        frame[TARGET],
        test_size=TEST_SIZE,
        random_state=RANDOM_STATE,
        stratify=frame[TARGET],
    )
    return Split(x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test)
