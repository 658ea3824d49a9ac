"""ticket-audit: audit Autotask PSA tickets against the service desk's procedure."""

from importlib.metadata import version

# The version is written once, in pyproject.toml; the installed distribution's metadata carries it
# (an editable install included), so `--version` and the package agree with what was released.
__version__ = version("ticket-audit")
