"""Write every output of a run into ``--out``: the one orchestration function of the renderers.

The outputs are rendered into a staging folder inside ``--out`` and swapped in together, so the
folder never mixes two runs (this week's CSV next to last week's PDF) nor holds a half-written
file. The staging folder is marked complete before the swap; a run killed during the swap
leaves it marked, and the next run (or ``check``) finishes the swap before writing anything;
a staging folder without the mark is a killed render and is discarded. Outputs of a previous
run that this run did not write (a renderer failed, or the run failed) are removed, so what
is in the folder is this run's. A run that fails (exit 3) still publishes ``gate.json``,
``junit.xml`` and ``summary.md`` naming the error (:func:`publish_failure`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import atomic_path, fsync_dir, write_text_atomic
from audit.core.config import Config
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError, RenderError, TicketAuditError
from audit.core.period import Period
from audit.render.csv_out import write_findings_csv
from audit.render.html_out import write_html
from audit.render.json_out import write_summary_json
from audit.render.junit import write_error_junit, write_junit
from audit.render.mail import MailError, mail_each, send_report, summary_mail_text
from audit.render.markdown import render_error_markdown, write_summary_md
from audit.render.notify import post_headline
from audit.render.pdf import report_context, write_pdf
from audit.render.private_pdf import PRIVATE_DIR, private_file_name, write_private_pdfs
from audit.render.workbook import ReviewState, write_workbook
from audit.results.gate import write_gate_file
from audit.results.rescoring import SCORING_DIR, ScoringInputs, write_scoring_inputs
from audit.results.scoring import period_findings
from audit.results.summary import EvaluationLike, Summary
from audit.results.thresholds import ThresholdResult

__all__ = [
    "ALL_OUTPUTS",
    "STAGING_DIR",
    "Delivery",
    "check_out_dir",
    "finish_publish",
    "mail_private",
    "mail_report",
    "publish",
    "publish_failure",
    "render_all",
]

log = logging.getLogger(__name__)

ALL_OUTPUTS: tuple[str, ...] = (
    "findings.csv",
    "summary.json",
    "junit.xml",
    "summary.md",
    "qa-review.xlsx",
    "scorecards.pdf",
    "scorecards.html",
)
#: Every file a run publishes (the reports, the gate's own gate.json, the scoring inputs).
_PUBLISHED: tuple[str, ...] = (*ALL_OUTPUTS, "gate.json", SCORING_DIR)
#: The staging folder inside ``--out`` and the mark that its contents are complete.
STAGING_DIR = ".ticket-audit-staging"
_COMPLETE = ".complete"


def check_out_dir(out_dir: Path) -> None:
    """``--out`` must be a folder this process can write: checked before any request is sent.

    Writes and removes a probe file in the folder, or in its nearest existing parent when the
    folder does not exist yet (nothing is created: a later usage error leaves no trace). An
    AuditRuntimeError (exit 3) naming the path otherwise.
    """

    target = out_dir
    while not target.exists() and target.parent != target:
        target = target.parent
    try:
        if not target.is_dir():
            raise NotADirectoryError(20, "not a folder", str(target))
        probe = target / f".ticket-audit-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise AuditRuntimeError(
            f"cannot write the reports to --out {out_dir}: {exc.strerror or exc}"
        ) from None


def finish_publish(out_dir: Path) -> None:
    """Complete a swap a killed run left marked complete; discard an unfinished staging folder."""
    staging = out_dir / STAGING_DIR
    if not staging.is_dir():
        return
    marker = staging / _COMPLETE
    if marker.is_file():
        names = json.loads(marker.read_text(encoding="utf-8"))
        _swap(out_dir, staging, [str(n) for n in names])
    shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    """An output, file or folder (``technicians/``, ``scoring/``), gone; a symlink itself only."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _swap(out_dir: Path, staging: Path, names: Sequence[str], keep: Collection[str] = ()) -> None:
    for name in names:
        if (staging / name).exists():
            if (staging / name).is_dir() and (out_dir / name).is_dir():
                _remove(out_dir / name)  # a folder output is replaced whole
            os.replace(staging / name, out_dir / name)
    for name in _PUBLISHED:  # what this run did not write is another run's: not left beside it
        if name not in names and name not in keep:
            _remove(out_dir / name)
    fsync_dir(out_dir)


def publish(
    out_dir: Path, writers: Mapping[str, Callable[[Path], Any]], *, keep: Collection[str] = ()
) -> dict[str, Path]:
    """Write each output (name -> writer of a path) into staging, then swap them all into ``out_dir``.

    When a writer fails, the outputs written before it are still published (a PDF failure must
    not cost the CI its findings) and the error is raised after the swap, carrying their names
    in ``published_outputs``. ``keep``: outputs of this same run already in place, left alone.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    finish_publish(out_dir)
    staging = out_dir / STAGING_DIR
    staging.mkdir()
    written: dict[str, Path] = {}
    failure: BaseException | None = None
    try:
        for name, writer in writers.items():
            _atomic(staging / name, writer)
            written[name] = out_dir / name
    except Exception as exc:  # published below with what was written, then raised
        failure = exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # interrupted: the previous outputs stay
        raise
    # The commit point: once the marker is whole, a killed run's swap is finished by the next.
    write_text_atomic(staging / _COMPLETE, json.dumps(sorted(written)))
    _swap(out_dir, staging, sorted(written), keep)
    shutil.rmtree(staging, ignore_errors=True)
    if failure is not None:
        failure.published_outputs = sorted(written)  # type: ignore[attr-defined]
        raise failure
    return written


def publish_failure(out_dir: Path, error: str, *, keep: Collection[str] = ()) -> dict[str, Path]:
    """The outputs of a run that failed (exit 3): gate.json, junit.xml and summary.md naming
    ``error``, replacing any others but ``keep`` (outputs the failed run did write)."""

    return publish(
        out_dir,
        {
            "gate.json": lambda p: write_gate_file(
                p.parent, exit_code=EXIT_RUNTIME, runtime_errors=[error], results=[], name=p.name
            ),
            "junit.xml": lambda p: write_error_junit(p, error),
            "summary.md": lambda p: p.write_text(render_error_markdown(error), encoding="utf-8"),
        },
        keep=[k for k in keep if k not in ("gate.json", "junit.xml", "summary.md")],
    )


@dataclass(frozen=True)
class Delivery:
    """How the report reaches people beyond the output folder.

    ``per_technician``: write ``technicians/<id>-<name>.pdf``; ``mail_each``: mail each technician
    their file, to ``addresses`` (technician key -> e-mail, from Autotask Resources);
    ``notify``: an incoming-webhook URL the headline is posted to (``notify_format``: slack/teams).
    """

    per_technician: bool = False
    mail_each: bool = False
    addresses: Mapping[str, str] = field(default_factory=dict)
    notify: str | None = None
    notify_format: str | None = None


def _atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    try:
        with atomic_path(path) as tmp:
            write(tmp)
    except TicketAuditError:
        raise
    except Exception as exc:
        raise RenderError(f"{path.name}: {type(exc).__name__}: {exc}") from exc
    return path


def render_all(
    evaluation: EvaluationLike,
    summary: Summary,
    out_dir: Path,
    config: Config,
    *,
    thresholds: Sequence[ThresholdResult] = (),
    outputs: Collection[str] = ALL_OUTPUTS,
    mail_to: Sequence[str] = (),
    findings: pd.DataFrame | None = None,
    review: ReviewState | None = None,
    extra: Mapping[str, Callable[[Path], Any]] | None = None,
    delivery: Delivery = Delivery(),
    scoring: ScoringInputs | None = None,
) -> dict[str, Path]:
    """Write the outputs named in ``outputs`` (and ``extra``: name -> writer, e.g. gate.json)
    into ``out_dir`` through :func:`publish`; mail the PDF when ``mail_to``.

    ``findings`` defaults to the evaluation's findings of the summary's period (the evaluation
    covers the whole trend range); ``review`` pre-fills the QA workbook; ``scoring``, what the
    summary was scored from, is saved beside ``summary.json`` (``scoring/``) for ``check --waivers``.
    Returns output name -> path.
    """
    unknown = set(outputs) - set(ALL_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown outputs: {sorted(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if findings is None:
        period = Period.from_dict(summary["period"])
        findings = period_findings(evaluation, period)
    writers: dict[str, Callable[[Path], Any]] = {}
    # Cheap, contract outputs first: a PDF failure must not cost the CI its junit/summary.
    if "findings.csv" in outputs:
        writers["findings.csv"] = lambda p: write_findings_csv(findings, p)
    if "summary.json" in outputs:
        writers["summary.json"] = lambda p: write_summary_json(summary, p)
        if scoring is not None:
            writers[SCORING_DIR] = lambda p: write_scoring_inputs(scoring, p)
    if "junit.xml" in outputs:
        writers["junit.xml"] = lambda p: write_junit(summary, findings, p, thresholds)
    if "summary.md" in outputs:
        writers["summary.md"] = lambda p: write_summary_md(summary, p, thresholds)
    writers.update(extra or {})
    if "qa-review.xlsx" in outputs:
        writers["qa-review.xlsx"] = lambda p: write_workbook(summary, findings, p, review)
    context = None
    private_wanted = delivery.per_technician or delivery.mail_each
    if {"scorecards.pdf", "scorecards.html"} & set(outputs) or private_wanted:
        context = report_context(summary, findings, config, gate=thresholds)  # shared by the three
    chunks: list[tuple[bytes, list[dict[str, Any]]]] = []  # entity pages the private scorecards reuse
    if "scorecards.pdf" in outputs:
        writers["scorecards.pdf"] = lambda p: write_pdf(
            summary,
            findings,
            p,
            config,
            gate=thresholds,
            context=context,
            keep_chunks=chunks if private_wanted else None,
        )
    if "scorecards.html" in outputs:
        writers["scorecards.html"] = lambda p: write_html(summary, findings, p, config, context=context)
    if private_wanted:  # after the PDF: its technician pages are reused when it rendered them in parallel
        writers[PRIVATE_DIR] = lambda p: write_private_pdfs(
            summary, findings, p, config, context=context, rendered=chunks
        )
    written = publish(out_dir, writers)
    if delivery.notify:
        post_headline(delivery.notify, summary, thresholds, fmt=delivery.notify_format)  # a warning at worst
    log.info("wrote %s", ", ".join(sorted(written)))
    # Last: every output is in place whatever the mail server does.
    failures = [
        mail_report(written, summary, config, mail_to) if mail_to else None,
        mail_private(written, summary, config, delivery.addresses) if delivery.mail_each else None,
    ]
    if any(failures):
        raise MailError("; ".join(filter(None, failures)))
    return written


def mail_report(
    written: Mapping[str, Path], summary: Summary, config: Config, mail_to: Sequence[str]
) -> str | None:
    """Mail the written PDF (and workbook) to ``mail_to``; the failure's message, or None.

    A mail failure is reported, never raised: the caller has written every output already and
    folds the message into its runtime errors (exit 3, ``gate.json`` still written).
    """

    if "scorecards.pdf" not in written:
        raise RenderError("--mail-to needs the PDF report")
    attachments = [written["scorecards.pdf"]]
    if config.report.include_workbook_in_mail and "qa-review.xlsx" in written:
        attachments.append(written["qa-review.xlsx"])
    subject, body = summary_mail_text(summary)
    try:
        send_report(config.mail, list(mail_to), attachments, subject=subject, body=body)
    except MailError as exc:
        return f"mail: {exc}"
    return None


def mail_private(
    written: Mapping[str, Path], summary: Summary, config: Config, addresses: Mapping[str, str]
) -> str | None:
    """Mail each technician their private scorecard (``technicians/``, written before); the
    failure's message, or None. Reported, never raised, as :func:`mail_report`."""

    if PRIVATE_DIR not in written:
        raise RenderError("--mail-each needs the private scorecards")
    folder = written[PRIVATE_DIR]
    files = {
        str(t["key"]): folder / private_file_name(t)
        for t in summary["technicians"]
        if (folder / private_file_name(t)).is_file()
    }
    try:
        mail_each(config.mail, summary, files, addresses)
    except MailError as exc:
        return f"mail: {exc}"
    return None
