"""The exception hierarchy of ticket-audit, drawn in one place.

Every error a user can meet carries the context needed to act on it and maps to one exit code
of the design: 2 for usage/configuration errors (nothing ran), 3 for runtime errors.
A breached threshold is not an exception: the gate returns exit code 1.

    TicketAuditError
    ├── ConfigError            exit 2  (file, line, what is wrong)
    │   ├── RuleFileError              (+ rule id)
    │   │   └── RuleValidationError    (every problem of the rule files, each with file and line)
    │   ├── MappingError               (a tenant-mapping label the tenant does not have)
    │   └── FilterError                (an invalid API filter; also a ValueError)
    └── AuditRuntimeError      exit 3
        ├── ApiError                   (entity, request, last status)
        │   ├── BudgetExceededError    (planned vs. available requests)
        │   └── CredentialsError       (the server refused the API user: which variable to check)
        ├── StoreError                 (unreadable or locked snapshot store)
        │   └── StoreLockedError       (another run holds the store)
        ├── RenderError                (a renderer failed)
        └── MailError                  (the SMTP server refused or could not be reached)

Raised inside the product and turned into one of the above (or into a rule's error status)
before they reach a user, so they carry no exit code:

    YamlSyntaxError            a file is not YAML (line, problem): the loaders add the file
    UnsafeRegexError           a user regex that does not compile or could backtrack exponentially
    RuleProblem                a problem in a rule's text (line): the loader adds file and rule id
    RuleTimeout                a rule still running when its time limit expired

The defining modules (``audit.engine.loader``, ``audit.source.autotask``...) re-export the ones
their public surface names. Private control-flow signals stay beside their only user and never
escape it: ``_Reply`` (the emulator's early answer), ``_Cancelled`` (a fetch stopped because the
run fails anyway) and ``_SchemaVersionError`` (a snapshot of another layout, told apart from a
repairable one by the store's recovery).
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
    "FilterError",
    "MailError",
    "MappingError",
    "RenderError",
    "RuleFileError",
    "RuleProblem",
    "RuleTimeout",
    "RuleValidationError",
    "StoreError",
    "StoreLockedError",
    "TicketAuditError",
    "UnsafeRegexError",
    "YamlSyntaxError",
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


class RuleValidationError(RuleFileError):
    """One or more rule-file problems; ``problems`` holds each (file, line, rule id, message)."""

    def __init__(self, problems: list[RuleFileError]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.message, file=first.file, line=first.line, rule_id=first.rule_id)

    def __str__(self) -> str:
        lines = [RuleFileError.__str__(p) for p in self.problems]
        head = f"{len(self.problems)} problem(s) in rule files:" if len(lines) > 1 else ""
        return "\n".join([head, *lines]) if head else lines[0]


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


class FilterError(ConfigError, ValueError):
    """A filter is invalid. Raised before any request is sent."""


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


class MailError(AuditRuntimeError):
    """The SMTP server refused or could not be reached (exit 3)."""


# ------------------------------------------------------- raised inside, converted before a user sees them


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is 1-based (or None when PyYAML gives no mark).

    ``problem`` is what PyYAML says is wrong; ``message`` is it prefixed with "YAML syntax: ".
    """

    def __init__(self, problem: str, line: int | None) -> None:
        self.problem = problem
        self.message = f"YAML syntax: {problem}"
        self.line = line
        super().__init__(self.message)


class UnsafeRegexError(ValueError):
    """A pattern that does not compile, or that could backtrack exponentially."""


class RuleProblem(Exception):
    """A problem in a rule's text, at ``line`` (the loader adds file and rule id)."""

    def __init__(self, message: str, line: int) -> None:
        self.message = message
        self.line = line
        super().__init__(message)


class RuleTimeout(Exception):
    """The rule was still running when its time limit expired."""
