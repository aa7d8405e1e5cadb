"""Micrograph names (cryopick.io.names): stems, coordinate files, and the base-name rule for _DW and friends."""

from __future__ import annotations

import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.io.names import base_name, coordinate_file_name, micrograph_name, name_map
from cryopick.io.picks import check_names_match, match_names


def test_stems_and_coordinate_files() -> None:
    assert micrograph_name("MotionCorr/job003/Movies/mic_0001.mrc") == "mic_0001"
    assert coordinate_file_name("Autopick/job010/mic_0001_autopick.star") == "mic_0001"


@pytest.mark.parametrize("name", ["mic_0001_DW", "mic_0001_dw", "mic_0001_doseweighted", "mic_0001_aligned",
                                  "008167452376738419843_mic_0001_patch_aligned_doseweighted",
                                  "mic_0001_patch_aligned", "mic_0001_noDW", "mic_0001"])
def test_base_name_drops_uid_prefixes_and_motion_correction_suffixes(name: str) -> None:
    assert base_name(name) == "mic_0001"


def test_a_name_that_is_only_a_suffix_is_kept() -> None:
    assert base_name("_DW") == "_DW" and base_name("12_DW") == "12"


def test_name_map_prefers_exact_names_and_refuses_ambiguity() -> None:
    assert name_map(["a_DW", "b"], ["a", "b"]) == {"a_DW": "a"}
    assert name_map(["a"], ["a", "a_DW"]) == {}  # the exact name wins
    assert name_map(["a"], ["a_DW", "a_aligned"]) == {}  # two micrographs share the base name: no guess


def test_match_names_renames_then_check_passes_and_a_real_mismatch_still_fails() -> None:
    picks = pd.DataFrame({"micrograph": ["mic_0001_DW", "mic_0002_DW"], "x": [1.0, 2.0], "y": [3.0, 4.0]})
    renamed = match_names(picks, ["mic_0001", "mic_0002"])
    assert list(renamed["micrograph"]) == ["mic_0001", "mic_0002"] and list(picks["micrograph"])[0] == "mic_0001_DW"
    check_names_match(renamed, ["mic_0001", "mic_0002"])
    with pytest.raises(CryopickError, match="_DW"):
        check_names_match(match_names(picks, ["other_0001"]), ["other_0001"])
