"""ticket-audit: audit Autotask PSA tickets against the service desk's procedure."""

__version__ = "0.1.0"
