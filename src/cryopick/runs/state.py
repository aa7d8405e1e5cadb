"""A batch run's state on disk: one finished file per micrograph, so a run resumes.

A run folder holds

* ``run.json``: the settings the run picks with (its *fingerprint*: method, model file
  checksum, diameter, picking options, cryopick version). A run that finds an
  *unfinished* run with other settings there stops with an error instead of mixing two
  kinds of picks or throwing work away; ``overwrite`` starts it afresh. After a finished
  run (``complete``), other settings simply start afresh, as rewriting an output does.
* ``parts/<micrograph>.npz``: one micrograph's candidates (x, y, score, diameter as
  float64, compressed: about 25 bytes a candidate) with the micrograph's path, size,
  modification time, shape and pixel size, written atomically (temp file + rename) as
  soon as the micrograph is done. A part whose micrograph changed since is picked again.
* ``lock``: the process id and host of the run writing there. A second run on the same
  folder stops with an error while the first is alive; a lock left by a killed run is
  taken over.

Floats are kept in binary, exactly, so a resumed run's output is identical to an
uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path, write_text_atomic
from cryopick.io.picks import empty_picks, make_picks

FIX_OTHER_SETTINGS = "pass --overwrite to start again, or write to another -o"


@dataclass(frozen=True)
class MicrographResult:
    """One micrograph's picking: where it came from and its candidates (a Picks table)."""

    path: str
    name: str
    shape: tuple[int, int]
    apix: float
    picks: pd.DataFrame


def run_folder_for(output: str | Path) -> Path:
    """Where a pick run writing ``output`` keeps its state: beside it, ``<output>.parts``."""
    output = Path(output)
    return output.parent / f"{output.name}.parts"


def source_stamp(path: str | Path) -> dict:
    """What identifies a micrograph file's version: size and modification time."""
    stat = Path(path).stat()
    return {"size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}


class RunFolder:
    """The state of one batch run (see the module docstring); use as a context manager.

    Parameters
    ----------
    folder
        Where the state lives (created).
    fingerprint
        The run's settings, JSON-serialisable; compared with a previous run's.
    overwrite
        Throw away a previous run's state instead of resuming it.
    """

    def __init__(self, folder: str | Path, fingerprint: dict, *, overwrite: bool = False):
        self.folder = Path(folder)
        self.parts = self.folder / "parts"
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back
        self.overwrite = overwrite
        self._locked = False

    def __enter__(self) -> RunFolder:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CryopickError(f"cannot create the run folder ({exc.strerror or exc})", path=self.folder,
                                fix="choose an output in a folder you can write to") from exc
        self._lock()
        try:
            self._check_settings()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._unlock()

    # ------------------------------------------------------------------ lock and settings

    def _lock(self) -> None:
        lock = self.folder / "lock"
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_json(lock) or {}
                if holder.get("host") == me["host"] and not _alive(holder.get("pid")):
                    lock.unlink(missing_ok=True)  # left by a run that was killed
                    continue
                raise CryopickError(
                    f"another cryopick run (pid {holder.get('pid', '?')} on {holder.get('host', '?')}) is writing here",
                    path=self.folder, fix=f"wait for it to finish or write to another -o; if it is no longer "
                    f"running, delete {lock}") from None
            except OSError as exc:
                raise CryopickError(f"cannot write in the run folder ({exc.strerror or exc})", path=self.folder,
                                    fix="choose an output in a folder you can write to") from exc
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            self._locked = True
            return
        raise CryopickError("cannot take the run folder's lock", path=lock, fix="delete the lock file")

    def _unlock(self) -> None:
        if self._locked:
            (self.folder / "lock").unlink(missing_ok=True)
            self._locked = False

    def _check_settings(self) -> None:
        settings, done = self.folder / "run.json", self.folder / "complete"
        previous = _read_json(settings) if settings.exists() else None
        self.replaced: list[str] = []
        if previous is not None and previous != self.fingerprint:
            self.replaced = sorted(k for k in set(previous) | set(self.fingerprint)
                                   if previous.get(k) != self.fingerprint.get(k))
        unfinished = any(self.parts.glob(f"*{PART_SUFFIX}")) and not done.exists()
        if self.replaced and unfinished and not self.overwrite:
            raise CryopickError(f"holds an unfinished run with other settings ({', '.join(self.replaced)})",
                                path=self.folder, fix=FIX_OTHER_SETTINGS)
        if (self.overwrite or self.replaced) and self.parts.exists():
            shutil.rmtree(self.parts)
        done.unlink(missing_ok=True)
        self.parts.mkdir(exist_ok=True)
        write_text_atomic(settings, json.dumps(self.fingerprint, indent=1, sort_keys=True))

    def mark_complete(self, **facts: object) -> None:
        """Record that every micrograph is done and the outputs are written (with ``facts``, e.g. the threshold).

        A later run with other settings then starts afresh instead of stopping; an
        unfinished run is only given up with ``overwrite``.
        """
        write_text_atomic(self.folder / "complete", json.dumps(facts))


    # ------------------------------------------------------------------ parts

    def _part(self, name: str) -> Path:
        return self.parts / f"{name}{PART_SUFFIX}"

    def is_done(self, name: str, path: str | Path) -> bool:
        """Whether this micrograph, as it is now, has a finished result here (its header only is read)."""
        return self._valid(name, path, arrays=False) is not None

    def _valid(self, name: str, path: str | Path, arrays: bool = True) -> dict | None:
        """The part's header (and arrays) when it belongs to the micrograph as it is now."""
        data = _read_part(self._part(name), arrays)
        if data is None or data["meta"].get("path") != str(path):
            return None
        try:
            return data if data["meta"].get("source") == source_stamp(path) else None
        except OSError:
            return None

    def load(self, name: str, path: str | Path) -> MicrographResult | None:
        """A finished micrograph's result, or None when it must be (re)picked."""
        data = self._valid(name, path)
        if data is None:
            return None
        meta = data["meta"]
        picks = make_picks(name, *(data[c] for c in PART_COLUMNS)) if data["x"].size else empty_picks()
        return MicrographResult(meta["path"], name, tuple(meta["shape"]), float(meta["apix"]), picks)

    def save(self, result: MicrographResult) -> None:
        """Write one micrograph's result atomically."""
        meta = {"path": result.path, "source": source_stamp(result.path), "shape": list(result.shape),
                "apix": result.apix}
        arrays = {c: result.picks[c].to_numpy(dtype=np.float64) for c in PART_COLUMNS}
        with atomic_path(self._part(result.name)) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(json.dumps(meta)), **arrays)


PART_SUFFIX = ".npz"
PART_COLUMNS = ("x", "y", "score", "diameter_px")


def _read_part(path: Path, arrays: bool = True) -> dict | None:
    """A part's header ``meta`` and (with ``arrays``) its columns as float64; None when missing or unreadable."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:  # closed even on a bad zip
            data = {c: np.asarray(archive[c], dtype=np.float64) for c in PART_COLUMNS} if arrays else {}
            data["meta"] = json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return data if isinstance(data["meta"], dict) else None


def _read_json(path: Path) -> dict | None:
    """A JSON file's object, or None when it is missing or unreadable (a torn or foreign file)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    """Whether a process with this id runs on this host."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def finished_run(folder: str | Path) -> tuple[pd.DataFrame, dict] | None:
    """Every candidate of a finished run (a Picks table, by micrograph name) and what it recorded.

    None when ``folder`` holds no finished run. For reports: the scores of every
    candidate, where the picks file holds only those above the threshold.
    """
    folder = Path(folder)
    facts = _read_json(folder / "complete")
    if facts is None:
        return None
    tables = []
    for part in sorted((folder / "parts").glob(f"*{PART_SUFFIX}")):
        data = _read_part(part)
        if data is None:
            return None
        if data["x"].size:
            tables.append(make_picks(part.name[: -len(PART_SUFFIX)], *(data[c] for c in PART_COLUMNS)))
    return (pd.concat(tables, ignore_index=True) if tables else empty_picks()), facts


@dataclass(frozen=True)
class RunRecord:
    """What a finished pick run recorded: every candidate, its threshold and what picked.

    Attributes
    ----------
    candidates
        Every candidate (a Picks table), where the picks file holds those above the threshold.
    threshold
        The cut the run applied before writing.
    threshold_from
        Where that threshold came from (e.g. "--threshold"); None for runs before it was recorded.
    picked_by
        What picked (e.g. "the bundled general model"); None for runs before it was recorded.
    model_sha256
        The model file's checksum (None for the LoG picker).
    """

    candidates: pd.DataFrame
    threshold: float
    threshold_from: str | None = None
    picked_by: str | None = None
    model_sha256: str | None = None


def run_candidates(picks_path: str | Path) -> RunRecord | None:
    """Every candidate of the finished pick run that wrote ``picks_path``, its threshold and what picked.

    None when no finished run is beside the file, or the run kept every peak
    (``--all-peaks``: no threshold, and the picks file already has them all).
    """
    run = finished_run(run_folder_for(picks_path))
    if run is None or run[1].get("threshold") is None:
        return None
    facts = run[1]
    return RunRecord(run[0], float(facts["threshold"]), facts.get("threshold_from"), facts.get("picked_by"),
                     facts.get("model_sha256"))
