"""`cryopick report`: one self-contained HTML page, checked as HTML, as PNGs and in a real browser."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cryopick.cli import main
from cryopick.errors import CryopickError
from cryopick.reports.html import (
    SECTION_TITLES,
    ReportConfig,
    build_report,
    esc,
    evenly,
    training_history,
    write_report,
)
from cryopick.io.coords import write_coords
from cryopick.io.picks import make_picks

ODD_NAME = 'mic_<b>&amp;"x'
"""A micrograph name that is markup if not escaped."""
SIDE = 160
VOID_TAGS = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "wbr", "source"}


class _Page(HTMLParser):
    """Collects headings, image sources and any tag nesting mistakes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.h2: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        if tag in VOID_TAGS:
            return
        self.stack.append(tag)
        self._in_h2 = tag == "h2"
        if tag == "h2":
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        self._in_h2 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h2:
            self.h2[-1] += data


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert not parser.errors, parser.errors
    assert not parser.stack, f"unclosed tags: {parser.stack}"
    return parser


def _write_mic(path: Path, rng: np.random.Generator) -> Path:
    data = rng.normal(size=(SIDE, SIDE)).astype(np.float32)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = 2.0
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> dict:
    """Four small micrographs (one with an awkward name, one without picks), picks and truth."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mics"
    folder.mkdir()
    names = ["mic_0", ODD_NAME, "mic_2", "mic_empty"]
    paths = [_write_mic(folder / f"{name}.mrc", rng) for name in names]
    truth_xy = {name: rng.uniform(20, SIDE - 20, size=(6, 2)) for name in names[:3]}
    truth = pd.concat([make_picks(n, xy[:, 0], xy[:, 1], 1.0, 24.0) for n, xy in truth_xy.items()], ignore_index=True)
    picks = pd.concat(
        [make_picks(n, xy[:4, 0] + 1.0, xy[:4, 1], rng.uniform(0.5, 1.0, 4), 24.0) for n, xy in truth_xy.items()]
        + [make_picks("mic_0", [30.0, 40.0], [140.0, 20.0], [0.2, 0.3], 24.0)],  # two false positives
        ignore_index=True,
    )
    return {"paths": paths, "folder": folder, "picks": picks, "truth": truth, "tmp": tmp_path}


def _pngs(page: _Page) -> list[Image.Image]:
    images = []
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:60]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(raw))
        image.verify()  # a complete, valid PNG
        images.append(Image.open(io.BytesIO(raw)))
    return images


def _assert_self_contained(page: str) -> None:
    for bad in ("http://", "https://", 'src="file', "<script", "<link", "url("):
        assert bad not in page, bad


def test_full_page_parses_with_every_section_and_valid_images(dataset: dict) -> None:
    training = {"epochs": 3, "seconds": 1.5, "history": {"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4],
                                                         "val_loss": [0.8, 0.6, 0.55], "val_accuracy": [0.6, 0.7, 0.8]}}
    page = build_report(dataset["picks"], dataset["paths"], truth=dataset["truth"], training=training,
                        config=ReportConfig(max_thumbnails=3, thumbnail_side_px=200, threshold=0.4),
                        sources={"picks": "x<y>.star"})
    parsed = parse(page)
    assert parsed.h2 == list(SECTION_TITLES.values())
    images = _pngs(parsed)
    assert len(images) == 3 + 4  # thumbnails, histogram, counts, PR curve, training
    assert max(images[0].size) <= 200
    _assert_self_contained(page)
    assert "Not shown" not in page
    assert "x&lt;y&gt;.star" in page and "x<y>" not in page
    text = "".join(parsed.text)
    assert "3 of 4 micrographs" in text
    assert "Without picks: mic_empty" in text  # counted, though it has no picks
    # each thumbnail enlarges on a click (CSS :target, no script) and a second click goes back
    for i in range(3):
        assert f'<figure class="mic" id="mic-{i}"><a href="#mic-{i}"' in page
    assert page.count('class="close"') == 3 and "figure.mic:target" in page and "<script" not in page


def test_thumbnails_are_large_enough_to_judge_a_pick(tmp_path: Path) -> None:
    """Issue 17: 480 px thumbnails of a 4k micrograph were too small to judge a pick."""
    path = tmp_path / "big.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.random.default_rng(0).normal(size=(1500, 2000)).astype(np.float32))
        mrc.voxel_size = 1.0
    picks = make_picks("big", [500.0], [400.0], 0.9, 120.0)
    (image,) = _pngs(parse(build_report(picks, [path], config=ReportConfig(max_thumbnails=1))))[:1]
    assert max(image.size) >= 1000  # shown 480 px wide, at full size when clicked


def test_names_are_escaped(dataset: dict) -> None:
    page = build_report(dataset["picks"], dataset["paths"], truth=dataset["truth"],
                        config=ReportConfig(max_thumbnails=4, thumbnail_side_px=120))
    assert ODD_NAME not in page  # the raw markup never reaches the page
    assert esc(ODD_NAME) in page
    assert ODD_NAME in "".join(parse(page).text)  # and the reader sees the name as it is


def test_absent_inputs_leave_their_sections_out(dataset: dict) -> None:
    page = build_report(dataset["picks"])
    parsed = parse(page)
    assert parsed.h2 == [SECTION_TITLES["scores"], SECTION_TITLES["counts"]]
    text = "".join(parsed.text)
    for line in ("micrographs: none given", "precision-recall: no truth given", "training curves: no model given"):
        assert f"Not shown: {line}." in text
    assert len(_pngs(parsed)) == 2
    unscored = dataset["picks"].assign(score=np.nan)
    parsed = parse(build_report(unscored, training={"epochs": 2}))
    assert parsed.h2 == [SECTION_TITLES["counts"]]
    assert "the model has no history" in "".join(parsed.text)
    assert "the picks carry no scores" in "".join(parsed.text)


def test_threshold_without_scores_is_an_error(dataset: dict) -> None:
    with pytest.raises(CryopickError, match="no scores"):
        build_report(dataset["picks"].assign(score=np.nan), config=ReportConfig(threshold=0.5))


def test_training_history_reads_both_layouts() -> None:
    patch = {"history": {"epoch": [1, 2], "train_loss": [0.5, 0.4], "val_accuracy": [0.7, 0.8]}}
    assert training_history(patch) == {"epoch": [1.0, 2.0], "train_loss": [0.5, 0.4], "val_accuracy": [0.7, 0.8]}
    fcn = {"history": [{"round": 1, "epoch": 1, "train_loss": 0.3, "val_risk": 0.2},
                       {"round": 2, "epoch": 1, "train_loss": 0.25, "val_risk": None}]}
    assert training_history(fcn)["val_risk"][0] == 0.2 and np.isnan(training_history(fcn)["val_risk"][1])
    assert training_history({"history": []}) == {} and training_history({}) == {}
    page = build_report(make_picks("a", [1.0], [1.0], 0.9, 10.0), training=fcn)
    assert parse(page).h2[-1] == SECTION_TITLES["training"] and "dotted lines separate training rounds" in page


def test_evenly_spread_sample() -> None:
    assert evenly(10, 3) == [0, 4, 9] or evenly(10, 3) == [0, 5, 9]
    assert evenly(2, 6) == [0, 1] and evenly(5, 1) == [0] and evenly(0, 3) == [] and evenly(4, 0) == []


def test_only_thumbnailed_micrographs_are_read(dataset: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import cryopick.reports.html as module

    read: list[str] = []
    original = module.read_micrograph

    def spy(path, *args, **kwargs):
        read.append(Path(path).name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(module, "read_micrograph", spy)
    build_report(dataset["picks"], dataset["paths"], config=ReportConfig(max_thumbnails=2, thumbnail_side_px=100))
    assert read == ["mic_0.mrc", "mic_empty.mrc"]


def _run(args: list[object]) -> int:
    """Run ``cryopick ARGS`` in-process; the exit status."""
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def _model_file(path: Path) -> Path:
    torch = pytest.importorskip("torch")
    from cryopick.models import build_model
    from cryopick.models.checkpoint import save_model

    torch.manual_seed(0)
    training = {"epochs": 2, "n_train": 10, "n_val": 2,
                "history": {"epoch": [1, 2], "train_loss": [0.6, 0.4], "val_loss": [0.7, 0.5],
                            "train_accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.75]}}
    save_model(path, build_model("mlp"), kind="mlp", patch_config={"patch_px": 64}, diameter_A=48.0,
               threshold=0.5, training=training)
    return path


def test_cli_writes_the_page(dataset: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = dataset["tmp"]  # CSV: one name has a quote, which STAR cannot carry (see test_star.py)
    write_coords(dataset["picks"], tmp / "picks.csv")
    write_coords(dataset["truth"], tmp / "truth.csv")
    out = tmp / "out" / "report.html"
    code = _run(["report", "--picks", tmp / "picks.csv", dataset["folder"], "--truth", tmp / "truth.csv",
                 "--model", _model_file(tmp / "m.cryopick"), "--diameter", 48, "--thumbnails", 2, "-o", out])
    assert code == 0 and "written to" in capsys.readouterr().err
    page = out.read_text()
    parsed = parse(page)
    assert parsed.h2 == list(SECTION_TITLES.values())
    assert len(_pngs(parsed)) == 2 + 4
    _assert_self_contained(page)
    assert "threshold 0.5" in page  # the model's own threshold
    assert "particle diameter 24.0 px" in page  # 48 Å at 2 Å/px
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # written atomically, nothing left over
    assert _run(["report", "--picks", tmp / "picks.csv", "-o", tmp / "bare.html"]) == 0
    assert parse((tmp / "bare.html").read_text()).h2 == [SECTION_TITLES["scores"], SECTION_TITLES["counts"]]


def test_cli_bad_input_is_one_line(dataset: dict, capsys: pytest.CaptureFixture[str]) -> None:
    tmp = dataset["tmp"]
    write_coords(dataset["picks"], tmp / "picks.csv")
    assert _run(["report", "--picks", tmp / "picks.csv", "--diameter", 40, "-o", tmp / "r.html"]) == 2
    err = capsys.readouterr().err
    assert "pixel size is unknown" in err and "Traceback" not in err
    assert not (tmp / "r.html").exists()


# ------------------------------------------------------------------------------ a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]
LOAD_ERRORS = re.compile(r"net::ERR_|Failed to load|Not allowed to load|ERR_FILE_NOT_FOUND|Refused to", re.I)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


IMAGE_PROBE = ('<script>window.addEventListener("load", function () {document.body.setAttribute("data-images", '
               'Array.from(document.images).map(function (i) {return i.complete && i.naturalWidth > 0 ? "ok" : '
               '"broken"}).join(" "))})</script>')
"""Added to a copy of the page only (the page itself has no script): after loading, the body
says which images decoded. Headless Chromium logs nothing for a broken <img>, so the log
check alone cannot see one."""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_page_renders_in_headless_chromium(dataset: dict) -> None:
    tmp = dataset["tmp"]
    report = write_report(tmp / "report.html", dataset["picks"], dataset["paths"], truth=dataset["truth"],
                          config=ReportConfig(max_thumbnails=4, thumbnail_side_px=200))
    url = report.resolve().as_uri()
    dom = _chromium(["--dump-dom", url], tmp / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for title in ("Micrographs", "Scores", "Picks per micrograph", "Against truth"):
        assert f"<h2>{title}</h2>" in dom.stdout
    assert dom.stdout.count("<img ") == 4 + 3
    shot = tmp / "shot.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,2000", url], tmp / "profile-shot")
    assert run.returncode == 0, run.stderr[-2000:]
    for stderr in (dom.stderr, run.stderr):
        assert not LOAD_ERRORS.findall(stderr), [line for line in stderr.splitlines() if LOAD_ERRORS.search(line)]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # a page, not one colour
    assert pixels[:, :, 0].std() > 10

    # Every image decodes: probe a copy, with one broken image added to show the probe sees it.
    page = report.read_text()
    probe = tmp / "probe.html"
    probe.write_text(page.replace("</body>", IMAGE_PROBE + '<img src="missing.png" alt="control"></body>'))
    checked = _chromium(["--dump-dom", "--virtual-time-budget=5000", probe.resolve().as_uri()], tmp / "profile-probe")
    assert checked.returncode == 0, checked.stderr[-2000:]
    verdicts = re.search(r'data-images="([^"]*)"', checked.stdout)
    assert verdicts is not None, "the probe did not run"
    assert verdicts.group(1).split() == ["ok"] * 7 + ["broken"]
