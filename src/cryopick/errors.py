"""Errors a user can act on.

Every problem caused by input (a file, a flag, a label table) is raised as a
:class:`CryopickError` whose message names the file and says how to fix it. The command
line prints that message as one line and exits non-zero; it never shows a traceback for
these.
"""

from __future__ import annotations

from pathlib import Path


class CryopickError(Exception):
    """A problem with the user's input, reported as one actionable line.

    Parameters
    ----------
    problem
        What is wrong, e.g. ``"pixel size is missing (0 in the header)"``.
    path
        The file concerned, if any; it is printed first.
    fix
        What the user can do about it, e.g. ``"pass --apix"``.
    """

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.path = None if path is None else Path(path)
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``<path>: <problem>; fix: <fix>`` on one line, whatever text a parser's error put in it."""
        text = f"{self.path}: {self.problem}" if self.path is not None else self.problem
        if self.fix:
            text = f"{text}; fix: {self.fix}"
        return " ".join(text.split()) if "\n" in text or "\r" in text else text
