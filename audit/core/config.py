"""The one TOML configuration file: tenant mapping, rule overrides, thresholds, reports.

Every key has a default (the catalog's), so a config file is optional. Unknown keys, wrong
types (strict: ``true`` is not a number, ``"85"`` is not a number, ``85`` is not text), values
out of range (every number is bounded, no ``inf``/``nan``), an unknown time zone and a regex
that could backtrack exponentially are configuration errors (exit 2) naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from audit.core.errors import ConfigError
from audit.core.tomlload import load_toml_text, toml_line
from audit.core.userregex import UnsafeRegexError, compile_user_regex

__all__ = [
    "SEVERITY_WEIGHTS",
    "Config",
    "ExtractSettings",
    "MailSettings",
    "TenantMapping",
    "EvaluateSettings",
    "ReportSettings",
    "ReviewSettings",
    "RuleOverride",
    "Thresholds",
    "WaiverSettings",
    "load_config",
]

SEVERITY_WEIGHTS: dict[str, int] = {"critical": 5, "major": 3, "minor": 1}


#: Every section: unknown keys refused, no type coercion (``true`` is not 1, ``"85"`` is not 85),
#: no infinite or NaN floats (TOML allows ``inf`` and ``nan``).
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

#: Bounded numbers: an absurd value (``1e308`` seconds, a 4,000-digit id) is a config error
#: naming its line, not an overflow deep inside a run.
Id = Annotated[int, Field(ge=0, le=2**63 - 1)]
Level = Annotated[int, Field(ge=0, le=1000)]
Percent = Annotated[float, Field(ge=0, le=100)]
_MINUTES_PER_YEAR = 366 * 24 * 60


class _Section(BaseModel):
    model_config = _STRICT


class TenantMapping(_Section):
    """The tenant mapping of the rule catalog: how this MSP names things."""

    closed_statuses: list[str] = Field(default=["Complete"], description="status labels of a closed ticket")
    new_statuses: list[str] = Field(
        default=["New"], description="status labels before work starts (LOG ticket rules skip them)"
    )
    priority_levels: dict[str, Level] = Field(
        default={"Critical": 1, "High": 2, "Medium": 3, "Low": 4},
        description="priority label -> level Pn",
    )
    email_sources: list[str] = Field(default=["Email"], description="source labels of an e-mail ticket")
    customer_publish: list[str] = Field(
        default=["All Autotask Users"], description="TicketNotes publish labels that are customer-visible"
    )
    system_note_types: list[str] = Field(
        default=[
            "Workflow Rule Note",
            "Workflow Rule Action",
            "Duplicate Ticket",
            "Merged Into Ticket",
            "Absorbed Ticket",
            "Forward/Modify",
            "Copied To Project",
            "Surveys",
            "RMM",
            "BDR",
        ],
        description="noteType labels that are not staff notes",
    )
    catch_all_company_ids: list[Id] = Field(
        default=[0], description="companyIDs where unmatched e-mail lands"
    )
    escalation_queues: list[str] = Field(
        default=["N2 - Support"], description="queue labels of the escalation level"
    )
    escalation_statuses: list[str] = Field(
        default=["Escalate", "Waiting Vendor"], description="status labels of an escalated ticket"
    )
    vendor_statuses: list[str] = Field(
        default=["Waiting Vendor"], description="status labels of a vendor escalation"
    )
    n2_resource_ids: list[Id] = Field(default=[], description="resources who count as N2 for ESC-06")
    ticket_types: list[str] = Field(
        default=["Incident", "Service Request", "Problem"], description="allowed ticketType labels (QUA-03)"
    )
    impact_udf: str = Field(default="Impact", description="UDF holding the impact")
    urgency_udf: str = Field(default="Urgency", description="UDF holding the urgency")
    on_call_udf: str = Field(default="On-call", description="UDF saying the on-call engineer was engaged")
    vendor_case_udf: str = Field(default="Vendor Case ID", description="UDF holding the vendor case id")
    impact_values: list[str] = Field(default=["High", "Medium", "Low"], description="valid Impact values")
    urgency_values: list[str] = Field(default=["High", "Medium", "Low"], description="valid Urgency values")
    on_call_truthy: list[str] = Field(
        default=["Yes", "True", "1", "On-call"], description="On-call values that mean yes"
    )
    priority_matrix: dict[str, dict[str, Level]] = Field(
        default={
            "High": {"High": 1, "Medium": 2, "Low": 4},
            "Medium": {"High": 2, "Medium": 3, "Low": 4},
            "Low": {"High": 4, "Medium": 4, "Low": 4},
        },
        description="impact -> urgency -> expected priority level",
    )
    escalation_marker: str = Field(default="ESCALATION", description="title prefix of an escalation note")
    retex_marker: str = Field(default="RETEX", description="title prefix of a post-mortem note")
    notified_marker: str = Field(
        default="NOTIFIED", description="title prefix of an internal notification note"
    )
    title_pattern: str = Field(
        default=r"^\s*\S.*?\s-\s\S.*?\s-\s\S.*$",
        description="regex an e-mail ticket title must match (INT-03)",
    )
    jargon: list[str] = Field(
        default=["GPO", "DNS flush", "RDP", "AD", "VLAN", "SMTP relay", "regedit"],
        description="terms customer-visible notes must avoid (whole words)",
    )
    placeholder_summaries: list[str] = Field(
        default=["done", "fixed", "ok", "resolved", "see ticket", "n/a", "work", "update"],
        description="time-entry summaries that say nothing",
    )
    evidence_pattern: str = Field(
        default=r"(?i)\b(attach|attached|screenshot|log file)\b|\.(log|png|jpg|pdf)\b",
        description="regex: text that mentions evidence (CLO-04)",
    )
    worklog_sections: list[str] = Field(
        default=["Symptom", "Findings", "Actions taken", "Result", "Next step"],
        description="sections of a structured work-log note (LOG-02)",
    )
    escalation_sections: list[str] = Field(
        default=["Context", "Timestamp", "Evidence", "Actions tried", "Hypothesis", "Question"],
        description="sections of the escalation pack (ESC-02)",
    )
    retex_sections: list[str] = Field(
        default=["Root cause", "Corrective action", "Preventive action"],
        description="sections of a RETEX note (PM-02)",
    )
    stale_resolution_days: int = Field(
        default=5, ge=0, le=3660, description="CLO-05: days a resolved ticket may stay open"
    )
    p1p2_assign_minutes: int = Field(
        default=15, ge=0, le=_MINUTES_PER_YEAR, description="SLA-05: minutes to first assignment"
    )
    qualification_minutes: int = Field(
        default=3, ge=0, le=_MINUTES_PER_YEAR, description="QUA-10: minutes to qualify a ticket"
    )
    min_customer_note_chars: int = Field(
        default=40, ge=0, le=1_000_000, description="LOG-03: minimum customer note length"
    )
    min_summary_chars: int = Field(
        default=20, ge=0, le=1_000_000, description="LOG-06: minimum time-entry summary length"
    )

    @field_validator("title_pattern", "evidence_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        """A regex setting must compile and be safe to run: the error names this file and line,
        not the rule using it."""
        try:
            compile_user_regex(value)
        except UnsafeRegexError as exc:
            raise PydanticCustomError(
                "invalid_regex",
                "invalid regex {pattern}: {error}",
                {"pattern": repr(value), "error": str(exc)},
            ) from exc
        return value


class ExtractSettings(_Section):
    include_history: bool = Field(default=False, description="extract TicketHistory (one request per ticket)")
    budget_share: float = Field(
        default=0.5, gt=0, le=1, description="share of the remaining hourly budget a run may plan"
    )
    overlap_minutes: int = Field(default=15, ge=0, le=7 * 24 * 60, description="watermark overlap margin")
    initial_days: int = Field(default=70, ge=1, le=3660, description="first run: how far back to extract")
    max_in_flight: int = Field(default=3, ge=1, le=3, description="concurrent requests per entity endpoint")
    max_retries: int = Field(default=6, ge=0, le=100, description="retries per request")
    timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="total deadline of one request (connect to last byte)"
    )
    query_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="total deadline of one query page: Autotask runs a query up to 5 minutes",
    )
    retry_budget_seconds: float = Field(
        default=120.0,
        ge=0,
        le=86_400,
        description="total time a run may spend on failed requests and waits between retries",
    )


class EvaluateSettings(_Section):
    rule_time_limit_seconds: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="a rule still running after this long is reported as an error (never as passed)",
    )


class RuleOverride(_Section):
    enabled: bool | None = None
    severity: Literal["critical", "major", "minor"] | None = None
    weight: float | None = Field(default=None, ge=0, le=1000)


class Thresholds(_Section):
    model_config = ConfigDict(**_STRICT, populate_by_name=True)

    overall: float | None = Field(default=None, ge=0, le=100)
    step: dict[str, Percent] = Field(default={})
    rule: dict[str, Percent] = Field(default={})
    technician: float | None = Field(default=None, ge=0, le=100)
    queue: float | None = Field(default=None, ge=0, le=100)
    ticket_compliance: float | None = Field(
        default=None, ge=0, le=100, description="minimum % of the period's tickets that broke no rule"
    )
    min_sample: int = Field(
        default=5, ge=1, le=1_000_000, description="below this many applicable checks a score is low-sample"
    )
    allow_empty: bool = Field(
        default=False, description="accept a period with no applicable check (else exit 1, 'nothing audited')"
    )


class ReportSettings(_Section):
    tenant_name: str = Field(default="", description="shown on reports; default: the zone or 'Sandbox'")
    worst_tickets: int = Field(default=10, ge=1, le=10_000)
    top_rules: int = Field(default=10, ge=1, le=10_000)
    trend_weeks: int = Field(default=8, ge=1, le=520)
    band_good: float = Field(
        default=90.0,
        ge=0,
        le=100,
        description="without a threshold: scores from here on are shown as passing (✓)",
    )
    band_warn: float = Field(
        default=75.0,
        ge=0,
        le=100,
        description="without a threshold: scores from here to band_good are shown as ● (below: ▼)",
    )
    include_workbook_in_mail: bool = False


class MailSettings(_Section):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65_535)
    starttls: bool = Field(
        default=True, description="upgrade with STARTTLS; a server not offering it is an error"
    )
    implicit_tls: bool = Field(default=False, description="SMTPS: TLS from the first byte (usually port 465)")
    allow_plaintext_auth: bool = Field(
        default=False, description="send the password without TLS (never do this)"
    )
    user: str | None = None
    sender: str = "ticket-audit@localhost"
    password_env: str = Field(
        default="TICKET_AUDIT_SMTP_PASSWORD", description="env var holding the SMTP password"
    )

    @model_validator(mode="after")
    def _no_plaintext_password(self) -> MailSettings:
        if self.user and not (self.starttls or self.implicit_tls or self.allow_plaintext_auth):
            raise PydanticCustomError(
                "plaintext_auth",
                "user is set but starttls and implicit_tls are off: the "
                "password would cross the network in clear text "
                "(allow_plaintext_auth = true accepts that)",
            )
        return self


class WaiverSettings(_Section):
    file: str | None = Field(default=None, description="waivers file (YAML or TOML)")
    default_expiry_days: int = Field(default=90, ge=1, le=3660)


class ReviewSettings(_Section):
    """The QA review loop: the sample of tickets without findings, and noisy rules."""

    sample_size: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="tickets without findings on the workbook's Sample sheet (recall)",
    )
    sample_seed: int = Field(
        default=0, ge=0, le=2**31 - 1, description="seed of the sample (with the period, it fixes the draw)"
    )
    noisy_precision: float = Field(
        default=90.0, ge=0, le=100, description="a rule whose measured precision (%) is below this is noisy"
    )
    noisy_min_verdicts: int = Field(
        default=10,
        ge=1,
        le=1_000_000,
        description="verdicts (confirmed + false positive) before a rule can be noisy",
    )


class Config(_Section):
    store: str = Field(default=".ticket-audit/store", description="snapshot store folder")
    store_lock_stale_seconds: float = Field(
        default=600.0,
        ge=30,
        le=86400,
        description="a store lock without a heartbeat for this long is stale (taken over)",
    )
    rules_dir: str | None = Field(default=None, description="rule files folder; default: the bundled rules")
    timezone: str = Field(
        default="UTC",
        description="the tenant's IANA time zone (e.g. America/Los_Angeles): periods and weeks run "
        "from its midnights, dates compare in its calendar",
    )
    mapping: TenantMapping = TenantMapping()
    extract: ExtractSettings = ExtractSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    rules: dict[str, RuleOverride] = Field(default={})
    thresholds: Thresholds = Thresholds()
    report: ReportSettings = ReportSettings()
    mail: MailSettings = MailSettings()
    waivers: WaiverSettings = WaiverSettings()
    review: ReviewSettings = ReviewSettings()

    #: Mapping keys the user set explicitly (a missing explicit label is an error, a default one a warning).
    explicit_mapping_keys: frozenset[str] = Field(default=frozenset(), exclude=True)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An IANA name the time zone database knows (``UTC``, ``Europe/Paris``)."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: not a zone key ("../x")
            raise PydanticCustomError(
                "unknown_timezone",
                "unknown time zone {zone}: expected an IANA name such as "
                "'America/Los_Angeles', 'Europe/Paris' or 'UTC'",
                {"zone": repr(value)},
            ) from exc
        return value


def load_config(path: str | Path | None) -> Config:
    """Load and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", file=str(p)) from exc
    data = load_toml_text(text, str(p))
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(x) for x in loc)
        what = (
            "unknown key" if err["type"] == "extra_forbidden" else f"{err['msg']}, got {_shown(err['input'])}"
        )
        raise ConfigError(f"{dotted}: {what}", file=str(p), line=toml_line(text, loc)) from exc
    explicit = frozenset(data.get("mapping", {}).keys())
    return cfg.model_copy(update={"explicit_mapping_keys": explicit, "source": str(p)})


def _shown(value: Any) -> str:
    """A value as the user wrote it (TOML spelling), cut short: the error must stay one line."""
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…{text[-8:]} ({len(text)} characters)"
