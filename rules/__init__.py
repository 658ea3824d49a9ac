"""Bundled rule files (the repo's rules/ folder), shipped in the wheel."""
