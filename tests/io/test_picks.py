"""The Picks table: construction, validation, and the checks against micrographs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.io.picks import (
    PICK_COLUMNS,
    check_inside,
    check_names_match,
    keep_given,
    make_picks,
    typical_diameter_px,
    validate_picks,
)


def table() -> pd.DataFrame:
    return make_picks(["a", "a", "b", "c"], [10, 20, 30, 40], [5, 6, 7, 8], score=[0.9, 0.8, 0.7, 0.6])


def test_make_picks_has_the_standard_columns_and_nan_for_unknowns() -> None:
    picks = make_picks("m", [1.0, 2.0], [3.0, 4.0], kind=["particle", "ice"])
    assert list(picks.columns) == [*PICK_COLUMNS, "kind"]
    assert picks["score"].isna().all() and picks["diameter_px"].isna().all()
    with pytest.raises(ValueError):
        make_picks("m", [1.0], [1.0, 2.0])


def test_validate_adds_missing_columns_and_rejects_non_numbers() -> None:
    out = validate_picks(pd.DataFrame({"micrograph": ["m"], "x": ["1.5"], "y": [2]}))
    assert list(out.columns) == list(PICK_COLUMNS) and out["x"].iloc[0] == 1.5
    with pytest.raises(CryopickError, match="not numbers"):
        validate_picks(pd.DataFrame({"micrograph": ["m"], "x": ["left"], "y": [2]}), "bad.csv")
    with pytest.raises(CryopickError, match="lacks column"):
        validate_picks(pd.DataFrame({"micrograph": ["m"], "x": [1]}), "bad.csv")


def test_keep_given_keeps_the_subset_and_says_what_was_left_out() -> None:
    kept, rows, micrographs = keep_given(table(), ["a", "c"])
    assert kept["micrograph"].tolist() == ["a", "a", "c"] and (rows, micrographs) == (1, 1)
    assert kept.index.tolist() == [0, 1, 2]


def test_keep_given_leaves_the_table_whole_when_all_or_none_match() -> None:
    whole, rows, micrographs = keep_given(table(), ["a", "b", "c", "d"])
    assert len(whole) == 4 and (rows, micrographs) == (0, 0)
    unmatched, rows, micrographs = keep_given(table(), ["x"])
    assert len(unmatched) == 4 and (rows, micrographs) == (0, 0)
    with pytest.raises(CryopickError, match="none of the micrograph names"):
        check_names_match(unmatched, ["x"], "labels.star")


def test_names_mismatch_says_how_many_match_nothing() -> None:
    with pytest.raises(CryopickError, match="1 of 3 micrograph names in the coordinates match no micrograph"):
        check_names_match(table(), ["a", "b"], "labels.star")
    check_names_match(table(), ["a", "b", "c"], "labels.star")


def test_check_inside_raises_or_drops() -> None:
    picks = make_picks("m", [10.0, 500.0], [10.0, 10.0])
    shapes = {"m": (100, 200)}
    with pytest.raises(CryopickError, match="outside"):
        check_inside(picks, shapes, "p.csv")
    kept = check_inside(picks, shapes, drop=True)
    np.testing.assert_array_equal(kept["x"], [10.0])


def test_typical_diameter_is_the_median_positive_diameter_of_the_first_table_with_one() -> None:
    unknown = make_picks("m", [1.0, 2.0], [1.0, 2.0], diameter_px=[np.nan, 0.0])
    picks = make_picks("m", [1.0, 2.0, 3.0, 4.0], [1.0] * 4, diameter_px=[-5.0, 30.0, 40.0, np.inf])
    truth = make_picks("m", [1.0], [1.0], diameter_px=[90.0])
    assert typical_diameter_px(None, unknown, picks, truth) == 35.0  # -5 and inf are no diameters
    assert typical_diameter_px(truth, picks) == 90.0
    assert typical_diameter_px(pd.DataFrame({"x": [1.0]}), unknown) is None
    assert typical_diameter_px() is None
