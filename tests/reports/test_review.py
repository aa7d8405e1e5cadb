"""`cryopick review`: the page's data and pictures, its script's decisions (run in Node) and the STAR it gives."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cryopick.cli import main
from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords, write_coords
from cryopick.io.micrographs import write_mrc
from cryopick.io.picks import make_picks
from cryopick.reports.review import ReviewConfig, review_page, write_review_page
from tests.cli.test_cli import run_cli

SHAPE = (300, 420)  # rows, columns: not square, so a swapped axis shows
DIAMETER_PX = 24.0
NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture()
def dataset(tmp_path: Path) -> dict:
    rng = np.random.default_rng(1)
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"mic_{i}.mrc")
        write_mrc(paths[-1], rng.normal(size=SHAPE).astype(np.float32), 2.0)
    picks = pd.concat([
        make_picks("mic_0", [30.5, 200.25, 400.0], [20.0, 150.5, 290.0], [0.9, 0.6, 0.2], DIAMETER_PX),
        make_picks("mic_1", [100.0], [100.0], [0.8], DIAMETER_PX),
        make_picks("elsewhere", [5.0], [5.0], [0.99], DIAMETER_PX),  # a micrograph not on the page
    ], ignore_index=True)
    return {"paths": paths, "picks": picks, "tmp": tmp_path}


def _data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="cryopick-review-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def _pictures(page: str) -> list[Image.Image]:
    pictures = []
    for encoded in re.findall(r'href="data:image/jpeg;base64,([^"]+)"', page):
        picture = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        picture.load()
        pictures.append(picture)
    return pictures


def test_page_holds_every_candidate_in_original_pixels_and_a_picture_of_each(dataset: dict) -> None:
    page = review_page(dataset["picks"], dataset["paths"], diameter_px=DIAMETER_PX,
                       config=ReviewConfig(threshold=0.5, max_side_px=200))
    data = _data(page)
    assert data["threshold"] == 0.5 and len(data["id"]) == 16
    first, second = data["micrographs"]
    assert (first["name"], first["width"], first["height"]) == ("mic_0", SHAPE[1], SHAPE[0])
    assert first["picks"] == [[30.5, 20.0, 0.9], [200.25, 150.5, 0.6], [400.0, 290.0, 0.2]]
    assert second["picks"] == [[100.0, 100.0, 0.8]]
    assert first["factor"] == 3 and (first["view_width"], first["view_height"]) == (140, 100)
    assert first["radius_px"] == DIAMETER_PX / 2 and first["star_name"] == str(dataset["paths"][0])
    pictures = _pictures(page)
    assert [p.size for p in pictures] == [(140, 100), (140, 100)] and all(p.mode == "L" for p in pictures)
    loads = page.replace('"http://www.w3.org/2000/svg"', "")  # the SVG namespace is a name, not a load
    for bad in ("http://", "https://", 'src="', "<link", "url("):
        assert bad not in loads, bad
    assert "const Review" in page  # the script is inline


def test_without_a_threshold_every_candidate_starts_kept(dataset: dict) -> None:
    data = _data(review_page(dataset["picks"], dataset["paths"], diameter_px=DIAMETER_PX))
    assert data["threshold"] == 0.2


def test_a_name_cannot_break_the_page(tmp_path: Path) -> None:
    name = 'a<!--<script>&"b'  # an HTML comment opened in a script element can swallow its end tag
    odd = tmp_path / f"{name}.mrc"
    write_mrc(odd, np.zeros(SHAPE, np.float32) + np.arange(SHAPE[1], dtype=np.float32), 2.0)
    page = review_page(make_picks(name, [10.0], [10.0], [0.5], DIAMETER_PX), [odd], diameter_px=8.0)
    assert "<!--" not in page and page.count("<script") == 2
    assert _data(page)["micrographs"][0]["name"] == name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"micrographs": []}, "no micrographs to review"),
        ({"diameter_px": float("nan")}, "not a positive number"),
        ({"config": ReviewConfig(max_micrographs=1)}, "too many for one page"),
    ],
)
def test_bad_requests_are_one_line_errors(dataset: dict, kwargs: dict, message: str) -> None:
    args = {"micrographs": dataset["paths"], "diameter_px": DIAMETER_PX, **kwargs}
    with pytest.raises(CryopickError, match=message) as caught:
        review_page(dataset["picks"], args.pop("micrographs"), **args)
    assert "\n" not in str(caught.value)


def test_picks_that_name_none_of_the_micrographs_are_an_error(dataset: dict) -> None:
    elsewhere = dataset["picks"].loc[dataset["picks"]["micrograph"] == "elsewhere"]
    with pytest.raises(CryopickError, match="none of the picks is on these micrographs.*elsewhere.*mic_0"):
        review_page(elsewhere, dataset["paths"], diameter_px=DIAMETER_PX)
    page = review_page(elsewhere.iloc[:0], dataset["paths"], diameter_px=DIAMETER_PX)  # no picks: add them all
    assert [m["picks"] for m in _data(page)["micrographs"]] == [[], []]


def test_bad_settings_are_refused() -> None:
    for settings in ({"threshold": float("inf")}, {"max_side_px": 10}, {"max_micrographs": 0}):
        with pytest.raises(CryopickError):
            ReviewConfig(**settings)


def test_the_same_name_twice_is_an_error(dataset: dict, tmp_path: Path) -> None:
    other = tmp_path / "again"
    other.mkdir()
    twin = other / "mic_0.mrc"
    twin.write_bytes(dataset["paths"][0].read_bytes())
    with pytest.raises(CryopickError, match="share the name 'mic_0'"):
        review_page(dataset["picks"], [dataset["paths"][0], twin], diameter_px=DIAMETER_PX)


# ------------------------------------------------------------------------------ the script, in Node

SCRIPT = """
const Review = require(process.argv[2]);
const data = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const out = {};
const state = Review.newState(data);
out.before = Review.counts(state);
Review.toggle(state, 0, 0);                       // kept (0.9) -> rejected
Review.toggle(state, 0, 2);                       // below the threshold (0.2) -> accepted
const m = data.micrographs[1];
Review.add(state, 1, Review.fromView(50.5, m.factor, m.width), Review.fromView(20.25, m.factor, m.height));
Review.add(state, 1, 1.0, 2.0);
Review.removeAdded(state, 1, 1);                  // and taken back
out.after = Review.counts(state);
out.star = Review.starText(state);
const again = Review.newState(data);              // a reopened page
out.restored = Review.restore(again, JSON.parse(JSON.stringify(Review.decisions(state))));
out.starRestored = Review.starText(again);
out.mismatch = Review.restore(Review.newState(data), {micrographs: []});
out.roundTrip = [0, 1, 17.5, 299, 419].map((x) => Review.fromView((x + 0.5) / 3, 3, 420));
out.clamped = [Review.fromView(-4, 3, 420), Review.fromView(1000, 3, 420)];
state.threshold = 0.95;                           // the slider up: only decisions and added picks stay
out.high = Review.counts(state);
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_decisions_in_the_script_give_the_star_file_cryopick_reads(dataset: dict, tmp_path: Path) -> None:
    page = review_page(dataset["picks"], dataset["paths"], diameter_px=DIAMETER_PX,
                       config=ReviewConfig(threshold=0.5, max_side_px=200))
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(_data(page)))
    script_file = tmp_path / "run.js"
    script_file.write_text(SCRIPT)
    js = resources.files("cryopick.reports").joinpath("assets/review.js")
    run = subprocess.run([NODE, str(script_file), str(js), str(data_file)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["before"] == {"kept": 3, "rejected": 0, "added": 0}
    assert out["after"] == {"kept": 4, "rejected": 1, "added": 1}
    assert out["restored"] is True and out["starRestored"] == out["star"] and out["mismatch"] is False
    assert out["roundTrip"] == [0, 1, 17.5, 299, 419] and out["clamped"] == [0, 419]
    assert out["high"] == {"kept": 2, "rejected": 1, "added": 1}  # the accepted 0.2 and the added one stay

    star = tmp_path / "reviewed.star"
    star.write_text(out["star"])
    reviewed = read_coords(star).sort_values(["micrograph", "x"]).reset_index(drop=True)
    assert list(reviewed["micrograph"]) == ["mic_0", "mic_0", "mic_1", "mic_1"]
    np.testing.assert_allclose(reviewed["x"], [200.25, 400.0, 100.0, 50.5 * 3 - 0.5])
    np.testing.assert_allclose(reviewed["y"], [150.5, 290.0, 100.0, 20.25 * 3 - 0.5])
    assert np.isnan(reviewed["score"].iloc[3]) and reviewed["score"].iloc[0] == pytest.approx(0.6)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_the_page_draws_its_picks_in_headless_chromium(dataset: dict, tmp_path: Path) -> None:
    target = write_review_page(tmp_path / "review.html", dataset["picks"], dataset["paths"],
                               diameter_px=DIAMETER_PX, config=ReviewConfig(threshold=0.5))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    run = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          "--virtual-time-budget=3000", target.resolve().as_uri()],
                         capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(re.findall(r'<circle[^>]*class="kept"', run.stdout)) == 3  # 0.9, 0.6 and 0.8
    assert "3 picks kept (0 added by you), 0 rejected" in run.stdout
    assert "<title>score 0.900</title>" in run.stdout  # a pick's score on hover


# ------------------------------------------------------------------------------ the command


def test_cli_writes_the_page(dataset: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = dataset["tmp"]
    write_coords(dataset["picks"], tmp / "picks.star")
    code, _, err = run_cli(["review", *dataset["paths"], "--picks", tmp / "picks.star", "--threshold", 0.5,
                      "-o", tmp / "review.html"], capsys)
    assert code == 0, err
    assert "review page of 2 micrograph(s) written to" in err
    data = _data((tmp / "review.html").read_text())
    assert data["threshold"] == 0.5 and data["micrographs"][0]["radius_px"] == pytest.approx(DIAMETER_PX / 2)

    code, _, err = run_cli(["review", dataset["paths"][0], "--picks", tmp / "picks.star", "--diameter", 60,
                      "-o", tmp / "review.html"], capsys)
    assert code == 0, err
    assert _data((tmp / "review.html").read_text())["micrographs"][0]["radius_px"] == pytest.approx(15.0)


def test_cli_without_a_diameter_anywhere_is_one_line(dataset: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = dataset["tmp"]
    (tmp / "picks.csv").write_text("micrograph,x,y\nmic_0,10,10\n")
    code, _, err = run_cli(["review", *dataset["paths"], "--picks", tmp / "picks.csv", "-o", tmp / "r.html"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--diameter" in lines[0] and not (tmp / "r.html").exists()


def test_cli_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["review", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "cryopick review" in out and "reviewed.star" in out
