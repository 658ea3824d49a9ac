"""The ``ticket-audit`` command line.

Each command lives in the module named after it and exposes ``COMMAND``; this module only builds
the group and maps errors to the design's exit codes (2 config/usage, 3 runtime).

Output piped into a reader that stops early (``ticket-audit check ... | head -1``) is not an
error: the rest of the output goes to the null device, the command finishes, and the exit code
is the command's own (the gate's 0 / 1 / 2 / 3), never a "broken pipe" failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import IO, Any

import click

from audit import __version__
from audit.cli import (
    check,
    config,
    demo,
    doctor,
    evaluate,
    extract,
    history,
    report,
    review,
    rules,
    run,
    sandbox,
)
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, TicketAuditError
from audit.core.logs import configure_logging
from audit.core.safetext import console_lines, console_text

__all__ = ["cli", "main"]


def _silence(stream: IO[str] | None) -> bool:
    """Point the file descriptor under ``stream`` at the null device (its reader is gone).

    Later writes, and the interpreter's final flush, then succeed quietly instead of raising
    BrokenPipeError again (the recipe of the Python docs for SIGPIPE). False when ``stream``
    has no file descriptor to redirect.
    """
    try:
        fd = stream.fileno() if stream is not None else -1
    except (AttributeError, OSError, ValueError):
        return False
    if fd < 0:
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return True


class _PipeSafe:
    """A stand-in for ``sys.stdout`` / ``sys.stderr`` that goes quiet when its reader goes away.

    Everything is delegated to the real stream. A BrokenPipeError on write or flush points the
    stream at the null device and is swallowed, so the command runs to its end (writing its
    files, gate.json included) and keeps its own exit code.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._dropped = False  # broken and not redirectable: drop what is written

    def _broke(self) -> None:
        self._dropped = not _silence(self._stream)
        with contextlib.suppress(OSError, ValueError):  # what was pending goes to the null device
            self._stream.flush()

    def write(self, text: str) -> int:
        if self._dropped:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._broke()
            return len(text)

    def flush(self) -> None:
        if self._dropped:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._broke()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AuditGroup(click.Group):
    """Turns ticket-audit errors into one clear line on stderr and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TicketAuditError as exc:
            # Its own lines kept (a rule file's problems), controls in each escaped (it may quote tenant text).
            click.echo(f"ticket-audit: error: {console_lines(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("ticket-audit: interrupted", err=True)
            ctx.exit(EXIT_RUNTIME)
        except BrokenPipeError:
            # The reader of our output went away (`| head`) on a path `main` does not guard:
            # not an error. The command's own exit code is unknown here: 0, as for any
            # list/print command whose output was cut short.
            _silence(sys.stdout)
            ctx.exit(EXIT_OK)
        except OSError as exc:  # permission denied, no such file, no space...: an environment problem
            logging.getLogger("audit").debug("%s", exc, exc_info=True)
            click.echo(f"ticket-audit: error: {_os_error_message(exc)}", err=True)
            ctx.exit(EXIT_RUNTIME)
        except Exception as exc:  # an unexpected failure is a runtime error, never a traceback dump
            if logging.getLogger("audit").isEnabledFor(logging.DEBUG):
                raise
            click.echo(f"ticket-audit: internal error: {type(exc).__name__}: {console_text(exc)}", err=True)
            ctx.exit(EXIT_RUNTIME)


#: What the failing call was doing, by the name of a function near the top of the traceback.
_OS_VERBS = {
    "mkdir": "create folder",
    "makedirs": "create folder",
    "write_text": "write",
    "write_bytes": "write",
    "read_text": "read",
    "read_bytes": "read",
    "unlink": "delete",
    "rmdir": "delete",
    "rmtree": "delete",
}


def _os_error_message(exc: OSError) -> str:
    """``cannot create folder /proc/x: No such file or directory`` rather than an exception repr."""
    reason = exc.strerror or str(exc)
    if not isinstance(exc.filename, (str, bytes, os.PathLike)):
        return reason
    path = os.fsdecode(exc.filename)
    if isinstance(exc.filename2, (str, bytes, os.PathLike)):
        return f"cannot move {path} to {os.fsdecode(exc.filename2)}: {reason}"
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    verb = next((_OS_VERBS[n] for n in reversed(names[-3:]) if n in _OS_VERBS), "access")
    return f"cannot {verb} {path}: {reason}"


@click.group(cls=_AuditGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ticket-audit")
@click.option("-v", "--verbose", is_flag=True, help="Log each step (and each API request, secrets redacted).")
def cli(verbose: bool) -> None:
    """Audit how an Autotask service desk follows its ticket-handling procedure."""

    configure_logging(verbose=verbose)


def _register() -> None:
    for module in (
        check,
        config,
        demo,
        doctor,
        evaluate,
        extract,
        history,
        report,
        review,
        rules,
        run,
        sandbox,
    ):
        cli.add_command(module.COMMAND)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    stdout and stderr are guarded for the whole command: when their reader goes away
    (``| head -1``) the rest of the output is dropped and the command's exit code stands.
    """
    saved = sys.stdout, sys.stderr
    out, err = _PipeSafe(sys.stdout), _PipeSafe(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        return _main(argv)
    finally:
        with contextlib.suppress(OSError, ValueError):  # never let the last flush mask the exit code
            out.flush()
            err.flush()
        sys.stdout, sys.stderr = saved


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="ticket-audit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        click.echo(str(code), err=True)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
