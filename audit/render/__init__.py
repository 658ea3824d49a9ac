"""Renderers: every output file of a run, from the scoring summary and the period's findings.

    csv_out     findings.csv        one row per failing check, stable order
    json_out    summary.json        the scoring document, sorted keys
    junit       junit.xml           a test case per rule and per threshold
    markdown    summary.md          CI job summary
    workbook    qa-review.xlsx      the QA reviewers' workbook (review import reads it back)
    pdf         scorecards.pdf      the weekly manager report (Jinja2 + WeasyPrint)
    html_out    scorecards.html     the same report, one self-contained HTML file
    private_pdf technicians/*.pdf   one private scorecard per technician
    mail        SMTP delivery of the PDF (and optionally the workbook), and of each private scorecard
    notify      the headline posted to a Slack or Teams incoming webhook
    outputs     render_all(): writes all of the above into --out

Submodules are imported on demand: WeasyPrint and openpyxl are heavy, and a CI run that only
needs junit.xml should not pay for them.
"""

__all__: list[str] = []
