"""Write every output of a run into ``--out``: the one orchestration function of the renderers.

Each file is written to a temporary name and renamed into place, so a failed renderer never
leaves a half-written file where a previous good one stood.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.config import Config
from audit.errors import RenderError, TicketAuditError
from audit.period import Period
from audit.render.junit import ThresholdResultLike
from audit.scoring import EvaluationLike, Summary, period_findings

__all__ = ["ALL_OUTPUTS", "Delivery", "mail_private", "mail_report", "render_all"]

log = logging.getLogger(__name__)

ALL_OUTPUTS: tuple[str, ...] = (
    "findings.csv", "summary.json", "junit.xml", "summary.md", "qa-review.xlsx", "scorecards.pdf",
    "scorecards.html",
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
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except TicketAuditError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise RenderError(f"{path.name}: {type(exc).__name__}: {exc}") from exc
    return path


def render_all(
    evaluation: EvaluationLike,
    summary: Summary,
    out_dir: Path,
    config: Config,
    *,
    thresholds: Sequence[ThresholdResultLike] = (),
    outputs: Collection[str] = ALL_OUTPUTS,
    mail_to: Sequence[str] = (),
    findings: pd.DataFrame | None = None,
    delivery: Delivery = Delivery(),
) -> dict[str, Path]:
    """Write the outputs named in ``outputs`` into ``out_dir``; mail the PDF when ``mail_to``.

    ``findings`` defaults to the evaluation's findings of the summary's period (the evaluation
    covers the whole trend range). Returns output name -> path.
    """
    unknown = set(outputs) - set(ALL_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown outputs: {sorted(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if findings is None:
        period = Period.from_dict(summary["period"])
        findings = period_findings(evaluation, period)
    written: dict[str, Path] = {}
    # Cheap, contract outputs first: a PDF failure must not cost the CI its junit/summary.
    if "findings.csv" in outputs:
        from audit.render.csv_out import write_findings_csv

        written["findings.csv"] = _atomic(out_dir / "findings.csv", lambda p: write_findings_csv(findings, p))
    if "summary.json" in outputs:
        from audit.render.json_out import write_summary_json

        written["summary.json"] = _atomic(out_dir / "summary.json", lambda p: write_summary_json(summary, p))
    if "junit.xml" in outputs:
        from audit.render.junit import write_junit

        written["junit.xml"] = _atomic(out_dir / "junit.xml", lambda p: write_junit(summary, findings, p, thresholds))
    if "summary.md" in outputs:
        from audit.render.markdown import write_summary_md

        written["summary.md"] = _atomic(out_dir / "summary.md", lambda p: write_summary_md(summary, p, thresholds))
    if "qa-review.xlsx" in outputs:
        from audit.render.workbook import write_workbook

        written["qa-review.xlsx"] = _atomic(out_dir / "qa-review.xlsx", lambda p: write_workbook(summary, findings, p))
    context = None
    if {"scorecards.pdf", "scorecards.html"} & set(outputs) or delivery.per_technician or delivery.mail_each:
        from audit.render.pdf import report_context

        context = report_context(summary, findings, config, gate=thresholds)  # shared by the three
    private_wanted = delivery.per_technician or delivery.mail_each
    chunks: list[tuple[bytes, list[dict[str, Any]]]] = []  # entity pages the private scorecards reuse
    if "scorecards.pdf" in outputs:
        from audit.render.pdf import write_pdf

        written["scorecards.pdf"] = _atomic(
            out_dir / "scorecards.pdf", lambda p: write_pdf(summary, findings, p, config, gate=thresholds,
                                                            context=context,
                                                            keep_chunks=chunks if private_wanted else None)
        )
    if "scorecards.html" in outputs:
        from audit.render.html_out import write_html

        written["scorecards.html"] = _atomic(
            out_dir / "scorecards.html", lambda p: write_html(summary, findings, p, config, context=context)
        )
    if private_wanted:
        from audit.render.private_pdf import PRIVATE_DIR, write_private_pdfs

        write_private_pdfs(summary, findings, out_dir, config, context=context, rendered=chunks)
        written[PRIVATE_DIR] = out_dir / PRIVATE_DIR
    if delivery.notify:
        from audit.render.notify import post_headline

        post_headline(delivery.notify, summary, thresholds, fmt=delivery.notify_format)  # a warning at worst
    log.info("wrote %s", ", ".join(sorted(written)))
    # Last: every output is in place whatever the mail server does.
    failures = [mail_report(written, summary, config, mail_to) if mail_to else None,
                mail_private(written, summary, config, delivery.addresses) if delivery.mail_each else None]
    if any(failures):
        from audit.render.mail import MailError

        raise MailError("; ".join(filter(None, failures)))
    return written


def mail_report(written: Mapping[str, Path], summary: Summary, config: Config, mail_to: Sequence[str]) -> str | None:
    """Mail the written PDF (and workbook) to ``mail_to``; the failure's message, or None.

    A mail failure is reported, never raised: the caller has written every output already and
    folds the message into its runtime errors (exit 3, ``gate.json`` still written).
    """
    from audit.render.mail import MailError, send_report, summary_mail_text

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
    from audit.render.mail import MailError, mail_each
    from audit.render.private_pdf import PRIVATE_DIR, private_file_name

    if PRIVATE_DIR not in written:
        raise RenderError("--mail-each needs the private scorecards")
    folder = written[PRIVATE_DIR]
    files = {str(t["key"]): folder / private_file_name(t) for t in summary["technicians"]
             if (folder / private_file_name(t)).is_file()}
    try:
        mail_each(config.mail, summary, files, addresses)
    except MailError as exc:
        return f"mail: {exc}"
    return None
