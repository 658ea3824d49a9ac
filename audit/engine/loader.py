"""Load and validate rule files: every problem names FILE, LINE, RULE ID and what is wrong.

Everything is checked before any data is read: YAML syntax, unknown keys, the typed rule model,
unknown predicates and settings, invalid regexes, columns that do not exist (schema fields plus
the frames' derived columns), duplicate ids and names. All problems of a folder are reported
together (``RuleValidationError``, exit 2).
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from audit.core.config import Config, TenantMapping
from audit.core.errors import ConfigError, RuleFileError, RuleValidationError
from audit.core.yamlload import LineDict, LineList, YamlSyntaxError, line_at, load_yaml_text
from audit.engine import dates as _dates  # noqa: F401  (registers the date predicates)
from audit.engine import lookups as _lookups  # noqa: F401  (registers the lookup predicates)
from audit.engine import predicates as _predicates  # noqa: F401  (registers the predicates)
from audit.engine import related as _related  # noqa: F401  (registers the related predicates)
from audit.engine import text as _text  # noqa: F401  (registers the text predicates)
from audit.engine.messages import compile_message
from audit.engine.model import ROW_KINDS, STEPS, Rule, RuleDefaults, RuleSet, RuleSpec
from audit.engine.vocabulary import KINDS, Compiler, Definition, RuleProblem

__all__ = ["BUNDLED", "RuleValidationError", "load_ruleset", "rule_sources"]

log = logging.getLogger(__name__)

BUNDLED = "audit.bundled_rules"
_FILE_KEYS = {"step", "description", "defaults", "rules"}
_DEF_FILE_KEYS = {"description", "definitions"}


@dataclass
class _Source:
    name: str  # shown in messages
    text: str


def rule_sources(path: str | Path | None) -> tuple[str, list[_Source]]:
    """The rule files of a folder (or one file), or the bundled ones; sorted by name."""
    if path is None:
        root = importlib.resources.files(BUNDLED)
        items = sorted(
            (p for p in root.iterdir() if p.name.endswith((".yaml", ".yml"))), key=lambda p: p.name
        )
        return "bundled", [_Source(f"rules/{p.name}", p.read_text(encoding="utf-8")) for p in items]
    p = Path(path)
    if p.is_dir():
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        if not files:
            raise RuleFileError("no rule files (*.yaml) in this folder", file=str(p))
    elif p.is_file():
        files = [p]
        siblings = p.parent / "definitions.yaml"
        if p.name != "definitions.yaml" and siblings.is_file():
            files.insert(0, siblings)
    else:
        raise RuleFileError("no such rule file or folder", file=str(p))
    return str(p), [_Source(str(f), f.read_text(encoding="utf-8")) for f in files]


class _Collector:
    def __init__(self) -> None:
        self.problems: list[RuleFileError] = []
        #: What still loads but should be rewritten (a deprecated spelling), as "file:line: ...".
        self.warnings: list[str] = []

    def add(self, message: str, file: str, line: int | None, rule_id: str | None = None) -> None:
        self.problems.append(RuleFileError(message, file=file, line=line or None, rule_id=rule_id))

    def warn(self, message: str, file: str, line: int | None, rule_id: str | None = None) -> None:
        self.warnings.append(str(RuleFileError(message, file=file, line=line or None, rule_id=rule_id)))


def _model_at(model: type[BaseModel], loc: list[str]) -> type[BaseModel]:
    """The nested model a pydantic error location points into (for its allowed keys)."""
    for key in loc:
        field = model.model_fields.get(key)
        inner = [a for a in get_args(field.annotation) if isinstance(a, type)] if field else []
        nested = next((a for a in inner if issubclass(a, BaseModel)), None)
        if nested is None:
            break
        model = nested
    return model


def _pydantic_problem(
    exc: ValidationError, item: LineDict, model: type[BaseModel] = RuleSpec
) -> tuple[str, int]:
    """The first error of ``model.model_validate(item)``: message and line (nested keys dotted)."""
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    line = line_at(item, loc) or item.line
    dotted = ".".join(loc)
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(_model_at(model, loc[:-1]).model_fields))
        return f"unknown key {dotted!r} (allowed: {allowed})", line
    if err["type"] == "missing":
        return f"missing required key {dotted!r}", item.line
    return f"{dotted}: {err['msg']}", line


def _definitions(docs: list[tuple[_Source, Any]], out: _Collector) -> dict[str, Definition]:
    defs: dict[str, Definition] = {}
    for src, doc in docs:
        if not isinstance(doc, LineDict) or "definitions" not in doc:
            continue
        for key in doc:
            if key not in _DEF_FILE_KEYS:
                out.add(
                    f"unknown top-level key {key!r} (allowed: {', '.join(sorted(_DEF_FILE_KEYS))})",
                    src.name,
                    doc.line_for(key),
                )
        body = doc["definitions"]
        if not isinstance(body, LineDict):
            out.add(
                "definitions: expected a mapping of name -> {rows, where}",
                src.name,
                doc.line_for("definitions"),
            )
            continue
        for name, entry in body.items():
            line = body.line_for(name)
            if not isinstance(entry, LineDict) or set(entry) != {"rows", "where"}:
                out.add(f"definition {name!r}: expected exactly the keys 'rows' and 'where'", src.name, line)
                continue
            if entry["rows"] not in KINDS:
                out.add(
                    f"definition {name!r}: rows must be one of {', '.join(KINDS)}",
                    src.name,
                    entry.line_for("rows"),
                )
                continue
            if name in defs:
                out.add(
                    f"duplicate definition {name!r} (first in {defs[name].file}:{defs[name].line})",
                    src.name,
                    line,
                )
                continue
            defs[name] = Definition(name, entry["rows"], entry["where"], src.name, entry.line_for("where"))
    return defs


def _check_definitions(defs: dict[str, Definition], mapping: TenantMapping, out: _Collector) -> None:
    for d in defs.values():
        try:
            Compiler(mapping, defs, d.kind).condition(d.raw, d.line)
        except RuleProblem as exc:
            out.add(f"definition {d.name!r}: {exc.message}", d.file, exc.line)


def _rule_items(src: _Source, doc: Any, out: _Collector) -> Iterable[tuple[str, RuleDefaults, LineDict]]:
    if not isinstance(doc, LineDict):
        out.add("a rule file is a mapping with step, defaults and rules", src.name, 1)
        return
    for key in doc:
        if key not in _FILE_KEYS:
            out.add(
                f"unknown top-level key {key!r} (allowed: {', '.join(sorted(_FILE_KEYS))})",
                src.name,
                doc.line_for(key),
            )
    step = doc.get("step")
    if step not in STEPS:
        out.add(f"step must be one of {', '.join(STEPS)}, got {step!r}", src.name, doc.line_for("step"))
        return
    try:
        defaults = RuleDefaults.model_validate(_canonical_row(doc.get("defaults") or {}, src.name, out))
    except ValidationError as exc:
        raw = doc.get("defaults")
        message, line = _pydantic_problem(exc, raw if isinstance(raw, LineDict) else doc, RuleDefaults)
        out.add(f"defaults: {message}", src.name, line)
        return
    rules = doc.get("rules")
    if not isinstance(rules, LineList):
        out.add("rules: expected a list of rules", src.name, doc.line_for("rules"))
        return
    for item, line in zip(rules, rules.item_lines, strict=True):
        if not isinstance(item, LineDict):
            out.add("a rule is a mapping (id, name, title, ...)", src.name, line)
            continue
        yield str(step), defaults, item


def _compile(
    step: str,
    defaults: RuleDefaults,
    item: LineDict,
    src: _Source,
    config: Config,
    defs: dict[str, Definition],
    out: _Collector,
) -> Rule | None:
    rule_id = str(item.get("id")) if item.get("id") is not None else None
    item = _canonical_row(item, src.name, out, rule_id)
    data: dict[str, Any] = defaults.for_kind(item.get("row"))
    data.update(item)
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        message, line = _pydantic_problem(exc, item)
        out.add(message, src.name, line, rule_id)
        return None
    if not spec.name.startswith(step + "."):
        out.add(
            f"name {spec.name!r} must start with the step {step + '.'!r}",
            src.name,
            item.line_for("name"),
            spec.id,
        )
        return None
    compiler = Compiler(config.mapping, defs, spec.row)
    try:
        compiler.column_name(spec.anchor, item.line_for("anchor"))
        scope_line = item.line_for("scope") if "scope" in item else item.line
        scope = compiler.condition(spec.scope, scope_line) if spec.scope is not None else None
        check = compiler.condition(spec.check, item.line_for("check"))
        values = compile_message(compiler, spec, item)
    except RuleProblem as exc:
        out.add(exc.message, src.name, exc.line, spec.id)
        return None
    settings = tuple(compiler.used_settings)
    if spec.settings is not None:
        problem = _settings_mismatch(spec.settings, settings)
        if problem:
            out.add(f"settings: {problem}", src.name, item.line_for("settings"), spec.id)
            return None
    return Rule(
        spec=spec,
        step=step,
        scope=scope,
        check=check,
        file=src.name,
        line=item.line,
        message_values=values,
        settings=settings,
    )


def _settings_mismatch(listed: list[str], derived: tuple[str, ...]) -> str | None:
    """What differs between a rule's ``settings:`` (documentation) and what its text reads."""
    unknown = [name for name in listed if name not in TenantMapping.model_fields]
    if unknown:
        return f"unknown setting(s) {', '.join(unknown)}"
    not_read = [name for name in listed if name not in derived]
    not_listed = [name for name in derived if name not in listed]
    if not (not_read or not_listed):
        return None
    parts = [f"listed but not read: {', '.join(not_read)}"] if not_read else []
    parts += [f"read but not listed: {', '.join(not_listed)}"] if not_listed else []
    return (
        "does not match what the rule reads ("
        + "; ".join(parts)
        + f"); it reads: {', '.join(derived) or 'none'} (or drop the list: it is derived)"
    )


def _canonical_row(item: Any, file: str, out: _Collector, rule_id: str | None = None) -> Any:
    """``item`` with its ``row:`` spelled as the frames are (``tickets``); the former spelling
    (``ticket``, the findings' label) is still read this release, with a warning."""
    row = item.get("row") if isinstance(item, LineDict) else None
    if not isinstance(row, str) or row in ROW_KINDS:
        return item
    canonical = next((kind for kind, label in ROW_KINDS.items() if label == row), None)
    if canonical is None:
        return item
    out.warn(
        f"row: {row} is deprecated, write row: {canonical} (the old spelling is read until the next release)",
        file,
        item.line_for("row"),
        rule_id,
    )
    fixed = LineDict(item)
    fixed.line, fixed.key_lines = item.line, item.key_lines
    fixed["row"] = canonical
    return fixed


def load_ruleset(path: str | Path | None, config: Config) -> RuleSet:
    """Load, validate and compile rule files (``None``: the bundled rules)."""
    source, sources = rule_sources(path)
    out = _Collector()
    docs: list[tuple[_Source, Any]] = []
    for src in sources:
        try:
            docs.append((src, load_yaml_text(src.text, src.name)))
        except YamlSyntaxError as exc:
            out.add(exc.message, src.name, exc.line)
    defs = _definitions(docs, out)
    _check_definitions(defs, config.mapping, out)
    rules: list[Rule] = []
    seen_ids: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for src, doc in docs:
        if isinstance(doc, LineDict) and "definitions" in doc:
            continue
        for step, defaults, item in _rule_items(src, doc, out):
            rule_id, name = item.get("id"), item.get("name")
            where = f"{src.name}:{item.line}"
            if rule_id in seen_ids:
                out.add(
                    f"duplicate rule id {rule_id!r} (first at {seen_ids[rule_id]})",
                    src.name,
                    item.line_for("id"),
                    str(rule_id),
                )
                continue
            if name in seen_names:
                out.add(
                    f"duplicate rule name {name!r} (first at {seen_names[name]})",
                    src.name,
                    item.line_for("name"),
                    str(rule_id),
                )
                continue
            if rule_id is not None:
                seen_ids[str(rule_id)] = where
            if name is not None:
                seen_names[str(name)] = where
            rule = _compile(step, defaults, item, src, config, defs, out)
            if rule is not None:
                rules.append(rule)
    if out.problems:
        raise RuleValidationError(out.problems)
    for warning in out.warnings:
        log.warning("%s", warning)
    unknown = sorted(set(config.rules) - set(seen_ids))
    if unknown:
        raise ConfigError(f"rules: overrides for unknown rule ids: {', '.join(unknown)}", file=config.source)
    rules.sort(key=lambda r: (STEPS.index(r.step), r.id))
    digest = RuleSet.digest_of({s.name.rsplit("/", 1)[-1]: s.text for s in sources})
    return RuleSet(rules=tuple(rules), source=source, digest=digest, warnings=tuple(out.warnings))
