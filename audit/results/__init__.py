"""What the findings mean: scores, waivers, the QA review loop and the gate.

scoring    severity-weighted scores per rule, step, technician, queue and tenant; trends
waivers    waiver files (YAML/TOML): which findings are accepted, until when
review     the QA workbook's verdicts read back as waivers and false positives
gate       thresholds and baseline → the run's exit code (``run`` and ``check``)
recall     the estimated recall from the reviewers' answers on the Sample sheet
published  the weeks already published, so a re-run names what changed
"""
