"""Benchmark: the reports at scale (scoring, the manager PDF, the QA workbook, the CSV).

    python -m benchmarks.render --technicians 300 --queues 40 --findings 100000

A synthetic evaluation (``audit.sandbox.synthetic``) over 8 ISO weeks: 300 technicians, 40
queues, the bundled catalog's 43 rules. Prints one JSON line:

* ``score_s`` — ``audit.results.scoring.score`` over the 8-week tallies;
* ``pdf_s`` — ``write_pdf`` (``--jobs`` worker processes; 1 = one document), with ``pdf_pages``,
  ``pdf_mb`` and ``pdf_parent_cpu_s`` (the parent's own CPU time; the rest is in the workers);
  target ≤ 60 s for 300 technicians + 40 queues;
* ``private_s`` — ``write_private_pdfs``: ``technicians/<id>-<name>.pdf`` for every technician,
  copied out of the manager report's entity pages as ``run --per-technician`` does (target: at
  most half of ``pdf_s`` on top of it), with ``private_files``;
* ``xlsx_s`` — ``write_workbook`` with ``--findings`` rows on the Findings sheet (target ≤ 30 s
  at 100,000), with ``xlsx_mb``;
* ``csv_s`` — ``write_findings_csv`` of the same rows;
* ``load1`` — the machine's 1-minute load average at the start (the machine is shared: wall
  times grow with it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from audit.core.config import Config
from audit.render.csv_out import write_findings_csv
from audit.render.pdf import default_jobs, write_pdf
from audit.render.private_pdf import write_private_pdfs
from audit.render.workbook import write_workbook
from audit.results.scoring import period_findings, score
from audit.sandbox.synthetic import make_evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--technicians", type=int, default=300)
    parser.add_argument("--queues", type=int, default=40)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--skip-pdf", action="store_true")
    parser.add_argument("--skip-xlsx", action="store_true")
    args = parser.parse_args()

    config = Config()
    out: dict[str, object] = {
        "technicians": args.technicians,
        "queues": args.queues,
        "jobs": args.jobs,
        "load1": round(os.getloadavg()[0], 2),
    }
    evaluation = make_evaluation(seed=7, technicians=args.technicians, queues=args.queues)
    assert evaluation.period is not None
    t0 = time.perf_counter()
    summary = score(evaluation, config, evaluation.period, as_of=evaluation.as_of)
    out["score_s"] = round(time.perf_counter() - t0, 2)
    findings = period_findings(evaluation, evaluation.period)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_pdf:
            cpu0, t0 = time.process_time(), time.perf_counter()
            chunks: list = []  # as `run --per-technician` does: the private files reuse the entity pages
            pdf = write_pdf(
                summary, findings, folder / "scorecards.pdf", config, jobs=args.jobs, keep_chunks=chunks
            )
            out["pdf_s"] = round(time.perf_counter() - t0, 1)
            out["pdf_parent_cpu_s"] = round(time.process_time() - cpu0, 1)
            from pypdf import PdfReader

            out["pdf_pages"] = len(PdfReader(pdf).pages)
            out["pdf_mb"] = round(pdf.stat().st_size / 1e6, 1)
            t0 = time.perf_counter()
            files = write_private_pdfs(summary, findings, folder, config, jobs=args.jobs, rendered=chunks)
            out["private_s"] = round(time.perf_counter() - t0, 1)
            out["private_files"] = len(files)
        if not args.skip_xlsx:
            # Enough tickets for the requested number of findings over the 8 weeks.
            per_week = max(4.0, 4.0 * args.findings / 33_000)
            big = make_evaluation(
                seed=8, technicians=args.technicians, queues=args.queues, tickets_per_tech_week=per_week
            )
            rows = big.findings.head(args.findings)
            out["findings"] = len(rows)
            t0 = time.perf_counter()
            xlsx = write_workbook(summary, rows, folder / "qa-review.xlsx")
            out["xlsx_s"] = round(time.perf_counter() - t0, 1)
            out["xlsx_mb"] = round(xlsx.stat().st_size / 1e6, 1)
            t0 = time.perf_counter()
            write_findings_csv(rows, folder / "findings.csv")
            out["csv_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":  # the PDF workers are spawned: they must not re-run the benchmark
    main()
