"""Bundled report templates and CSS (the repo's reports/ folder), shipped in the wheel."""
