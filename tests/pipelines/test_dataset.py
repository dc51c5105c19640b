"""The iris validation checks, the canonical CSV and the split (pure functions, no MLflow)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import DataValidationError
from pipelines.steps import dataset


@pytest.fixture
def iris() -> pd.DataFrame:
    return dataset.load_iris_frame()


def test_bundled_iris_passes_every_check(iris: pd.DataFrame) -> None:
    results = dataset.validate(iris)

    assert [r.name for r in results] == ["schema", "nulls", "ranges", "rows"]
    assert all(r.passed for r in results)
    assert len(iris) == 150


def test_missing_column_fails_schema_and_skips_the_rest(iris: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError) as caught:
        dataset.validate(iris.drop(columns=["petal_width_cm"]))

    assert caught.value.checks == ["schema"]
    assert "missing columns ['petal_width_cm']" in str(caught.value)
    assert "check 'schema' failed" in str(caught.value)


def test_text_feature_fails_schema(iris: pd.DataFrame) -> None:
    bad = iris.astype({"sepal_length_cm": "object"})
    bad.loc[0, "sepal_length_cm"] = "five"

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(bad)

    assert caught.value.checks == ["schema"]


def test_null_value_fails_nulls_naming_the_column(iris: pd.DataFrame) -> None:
    bad = iris.copy()
    bad.loc[[3, 7], "petal_length_cm"] = math.nan

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(bad)

    assert caught.value.checks == ["nulls"]
    assert "'petal_length_cm': 2" in str(caught.value)


def test_out_of_range_value_and_unknown_class_fail_ranges(iris: pd.DataFrame) -> None:
    bad = iris.copy()
    bad.loc[0, "sepal_width_cm"] = 42.0  # millimetres by mistake
    bad.loc[1, "species"] = 7

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(bad)

    assert caught.value.checks == ["ranges"]
    assert "sepal_width_cm: 1 value(s) outside" in str(caught.value)
    assert "unknown class label(s) [7.0]" in str(caught.value)


def test_too_few_rows_of_a_class_fails_rows(iris: pd.DataFrame) -> None:
    bad = pd.concat([iris[iris.species != 2], iris[iris.species == 2].head(3)])

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(bad)

    assert caught.value.checks == ["rows"]
    assert "class 2 has 3 rows" in str(caught.value)


def test_several_failures_are_all_named(iris: pd.DataFrame) -> None:
    bad = iris.copy()
    bad.loc[0, "petal_width_cm"] = math.nan
    bad.loc[1, "petal_width_cm"] = -1.0

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(bad)

    assert caught.value.checks == ["nulls", "ranges"]


@settings(max_examples=50, deadline=None)
@given(
    row=st.integers(min_value=0, max_value=149),
    column=st.sampled_from(dataset.FEATURES),
    offset=st.floats(min_value=0.01, max_value=1e6),
    below=st.booleans(),
)
def test_any_value_outside_its_range_is_caught(
    row: int, column: str, offset: float, below: bool
) -> None:
    frame = dataset.load_iris_frame()
    low, high = dataset.FEATURE_RANGES[column]
    frame.loc[row, column] = low - offset if below else high + offset

    with pytest.raises(DataValidationError) as caught:
        dataset.validate(frame)

    assert caught.value.checks == ["ranges"]
    assert column in str(caught.value)


def test_split_is_stratified_and_reproducible(iris: pd.DataFrame) -> None:
    first, second = dataset.split(iris), dataset.split(iris)

    assert len(first.x_test) == 30
    assert first.y_test.value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    assert list(first.x_test.index) == list(second.x_test.index)


def test_canonical_csv_round_trips_with_a_stable_hash(iris: pd.DataFrame, tmp_path) -> None:
    from pipelines.steps.data import write_csv

    write_csv(iris, tmp_path / "a.csv")
    write_csv(pd.read_csv(tmp_path / "a.csv"), tmp_path / "b.csv")

    assert dataset.sha256_file(tmp_path / "a.csv") == dataset.sha256_file(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), dataset.normalise(iris))
