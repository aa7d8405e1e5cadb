"""The ``cryopick`` command line: a thin layer over the library.

Each subcommand lives in its own module whose function docstring is its ``--help``.
The library never imports this package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cryopick.cli import clean, convert, evaluate, extract, pick, simulate, train, train_general
from cryopick.cli import report, review, tomo
from cryopick.cli._app import app
from cryopick.errors import CryopickError

app.command("simulate")(simulate.simulate_command)
app.command("train")(train.train_command)
app.command("pick")(pick.pick_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("convert")(convert.convert_command)
app.command("clean")(clean.clean_command)
app.command("extract")(extract.extract_command)
app.command("train-general")(train_general.train_general_command)
app.command("report")(report.report_command)
app.command("review")(review.review_command)
app.add_typer(tomo.app, name="tomo")

EXIT_INPUT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``cryopick`` command.

    A :class:`~cryopick.errors.CryopickError` (a problem with the user's input) is printed
    as one line on standard error, with exit status 2, never as a traceback. So is a file
    system error that names its file (a folder that cannot be made, no permission, a
    full disk) wherever a command did not turn it into a CryopickError itself.
    """
    try:
        app(args=None if argv is None else list(argv), prog_name="cryopick")
    except CryopickError as error:
        print(f"cryopick: error: {error.message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT_ERROR) from None
    except OSError as error:
        if error.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        message = CryopickError(
            error.strerror or str(error),
            path=error.filename,
            fix="check the path: its folders must exist (or be creatable) and be readable or writable by you",
        ).message
        print(f"cryopick: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT_ERROR) from None
    except KeyboardInterrupt:
        print("cryopick: interrupted; files already written are complete", file=sys.stderr)
        raise SystemExit(130) from None
