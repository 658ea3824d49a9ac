"""The exception hierarchy of ticket-audit, drawn in one place.

Every error a user can meet carries the context needed to act on it and maps to one exit code
of the design: 2 for usage/configuration errors (nothing ran), 3 for runtime errors.
A breached threshold is not an exception: the gate returns exit code 1.

    TicketAuditError
    ├── ConfigError            exit 2  (file, line, what is wrong)
    │   ├── RuleFileError              (+ rule id)
    │   └── MappingError               (a tenant-mapping label the tenant does not have)
    └── AuditRuntimeError      exit 3
        ├── ApiError                   (entity, request, last status)
        │   ├── BudgetExceededError    (planned vs. available requests)
        │   └── CredentialsError       (the server refused the API user: which variable to check)
        ├── StoreError                 (unreadable or locked snapshot store)
        └── RenderError                (a renderer failed)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_CONFIG",
    "EXIT_OK",
    "EXIT_RUNTIME",
    "EXIT_THRESHOLD",
    "ApiError",
    "AuditRuntimeError",
    "BudgetExceededError",
    "ConfigError",
    "CredentialsError",
    "MappingError",
    "RenderError",
    "RuleFileError",
    "StoreError",
    "StoreLockedError",
    "TicketAuditError",
]

EXIT_OK = 0
EXIT_THRESHOLD = 1
EXIT_CONFIG = 2
EXIT_RUNTIME = 3


class TicketAuditError(Exception):
    """Base of every error ticket-audit raises on purpose."""

    exit_code: int = EXIT_RUNTIME


class ConfigError(TicketAuditError):
    """A usage, config, rule or waiver file is wrong. Exit 2: nothing ran."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class RuleFileError(ConfigError):
    """A rule file is invalid (schema, predicate, regex, column, duplicate id)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
    ) -> None:
        self.rule_id = rule_id
        super().__init__(message, file=file, line=line)

    def __str__(self) -> str:
        loc = self.location()
        rule = f"[{self.rule_id}] " if self.rule_id else ""
        return f"{loc}: {rule}{self.message}" if loc else f"{rule}{self.message}"


class MappingError(ConfigError):
    """A label named by the tenant mapping does not exist in the tenant's picklists."""

    def __init__(
        self,
        setting: str,
        label: str,
        available: list[str],
        *,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.setting = setting
        self.label = label
        self.available = available
        message = (
            f"{setting}: label {label!r} does not exist in the tenant; "
            f"the tenant has: {', '.join(repr(a) for a in available) or '(none)'}"
        )
        super().__init__(message, file=file, line=line)


class AuditRuntimeError(TicketAuditError):
    """Something failed while running. Exit 3."""

    exit_code = EXIT_RUNTIME


class ApiError(AuditRuntimeError):
    """The Autotask API refused or failed a request after retries."""

    def __init__(
        self,
        message: str,
        *,
        entity: str | None = None,
        request: str | None = None,
        status: int | None = None,
    ) -> None:
        self.entity = entity
        self.request = request
        self.status = status
        parts = [message]
        if entity:
            parts.append(f"entity={entity}")
        if request:
            parts.append(f"request={request}")
        if status is not None:
            parts.append(f"last status={status}")
        super().__init__("; ".join(parts))


class BudgetExceededError(ApiError):
    """The run's planned requests do not fit in the tenant's remaining hourly budget."""


class CredentialsError(ApiError):
    """Autotask refused the API user (a 401, or a 500 naming the user or the integration code).

    ``variables`` are the environment variables to check, most likely first.
    """

    def __init__(self, message: str, *, variables: tuple[str, ...] = (), **context: Any) -> None:
        self.variables = variables
        super().__init__(message, **context)


class StoreError(AuditRuntimeError):
    """The snapshot store is unreadable or inconsistent."""


class StoreLockedError(StoreError):
    """Another run holds the store's lock."""


class RenderError(AuditRuntimeError):
    """A report renderer failed."""
