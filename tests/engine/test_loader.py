"""What the rule compiler derives and fills in: the settings a rule reads, the defaults per row
kind, the canonical spelling of row kinds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audit.core.config import Config
from audit.engine import RuleValidationError, load_ruleset
from audit.engine.model import Rule

RULES = Path(__file__).resolve().parents[2] / "rules"

#: Two rules on each of three row kinds, none saying its scope, anchor or owner.
RULES_BODY = """\
rules:
  - id: LOG-01
    name: worklog.one
    title: One
    rationale: Because.
    severity: major
    check: {exists: {related: notes, where: {use: internal_staff_note}}}
  - id: LOG-02
    name: worklog.two
    title: Two
    rationale: Because.
    row: notes
    check: {min_length: {of: description, chars: $mapping.min_customer_note_chars}}
  - id: LOG-03
    name: worklog.three
    title: Three
    rationale: Because.
    row: time_entries
    severity: minor
    check: {set: billingCodeID}
"""

#: The same defaults, once spelled per row kind and once written out in every rule.
PER_KIND = """\
step: worklog
defaults:
  row: tickets
  severity: major
  tickets: {scope: {use: work_started}, anchor: lastActivityDate, owner: assigned}
  notes: {scope: {use: customer_visible_staff_note}, anchor: createDateTime, owner: author}
  time_entries: {scope: {use: ticket_time_entry}, anchor: dateWorked, owner: entry}
"""
WRITTEN_OUT = {
    "LOG-01": "    row: tickets\n    scope: {use: work_started}\n    anchor: lastActivityDate\n    owner: assigned\n",
    "LOG-02": "    scope: {use: customer_visible_staff_note}\n    anchor: createDateTime\n    owner: author\n    severity: major\n",
    "LOG-03": "    scope: {use: ticket_time_entry}\n    anchor: dateWorked\n    owner: entry\n",
}


def _load(tmp_path: Path, text: str) -> list[Rule]:
    folder = tmp_path / "rules"
    folder.mkdir(parents=True)
    shutil.copy(RULES / "definitions.yaml", folder / "definitions.yaml")
    (folder / "worklog.yaml").write_text(text, encoding="utf-8")
    return list(load_ruleset(folder, Config()).rules)


def _compiled(rule: Rule) -> tuple[object, ...]:
    """What evaluation uses of a rule (nodes by their canonical key; not the file line)."""
    scope = rule.scope.key if rule.scope else None
    values = tuple((name, node.key) for name, node in rule.message_values)
    return (rule.spec, rule.step, rule.kind, rule.row_kind, scope, rule.check.key, values, rule.settings)


def _written_out() -> str:
    body = RULES_BODY
    for rule_id, keys in WRITTEN_OUT.items():
        head = f"  - id: {rule_id}\n"
        body = body.replace(head, head + keys)
    return "step: worklog\nrules:\n" + body.split("rules:\n", 1)[1]


def test_defaults_per_row_kind_compile_as_if_written_in_every_rule(tmp_path: Path) -> None:
    per_kind = _load(tmp_path / "a", PER_KIND + RULES_BODY)
    written = _load(tmp_path / "b", _written_out())
    assert [_compiled(r) for r in per_kind] == [_compiled(r) for r in written]
    kinds = {r.id: (r.kind, r.spec.anchor, r.spec.owner, r.spec.severity) for r in per_kind}
    assert kinds == {
        "LOG-01": ("tickets", "lastActivityDate", "assigned", "major"),
        "LOG-02": ("notes", "createDateTime", "author", "major"),
        "LOG-03": ("time_entries", "dateWorked", "entry", "minor"),  # the rule's own key wins
    }


def test_a_row_kind_block_wins_over_the_file_wide_defaults(tmp_path: Path) -> None:
    text = PER_KIND.replace("  severity: major\n", "  severity: major\n  owner: completed_by\n")
    text = text.replace(", owner: assigned}", "}")
    rules = {r.id: r for r in _load(tmp_path, text + RULES_BODY)}
    assert rules["LOG-01"].spec.owner == "completed_by"  # the tickets block says none
    assert rules["LOG-02"].spec.owner == "author"


def test_settings_are_derived_in_order_of_first_use(tmp_path: Path) -> None:
    rules = {r.id: r for r in _load(tmp_path, PER_KIND + RULES_BODY)}
    # LOG-01: new_statuses (its scope), then the note definitions' settings.
    assert rules["LOG-01"].settings == ("new_statuses", "system_note_types", "customer_publish")
    assert rules["LOG-02"].settings == ("system_note_types", "customer_publish", "min_customer_note_chars")
    assert rules["LOG-03"].settings == ()


def test_a_settings_list_that_matches_in_any_order_is_documentation(tmp_path: Path) -> None:
    listed = RULES_BODY.replace(
        "    row: notes\n",
        "    row: notes\n    settings: [min_customer_note_chars, customer_publish, system_note_types]\n",
    )
    rules = {r.id: r for r in _load(tmp_path, PER_KIND + listed)}
    assert rules["LOG-02"].settings == ("system_note_types", "customer_publish", "min_customer_note_chars")


def test_bundled_settings_are_derived() -> None:
    ruleset = load_ruleset(None, Config())
    assert ruleset.get("QUA-09").settings == (
        "impact_udf",
        "impact_values",
        "urgency_udf",
        "urgency_values",
        "priority_levels",
        "priority_matrix",
    )
    assert ruleset.get("SLA-01").settings == ()


@pytest.mark.parametrize(
    ("defaults", "line", "text"),
    [
        (
            "  notes: {anchor: createDateTime, colour: red}\n",
            4,
            "unknown key 'notes.colour' (allowed: anchor, owner, scope, severity)",
        ),
        (
            "  ticket: {anchor: createDate}\n",
            4,
            "unknown key 'ticket' (allowed: anchor, notes, owner, row, scope, severity, tickets, time_entries)",
        ),
        ("  time_entries: {owner: nobody}\n", 4, "time_entries.owner"),
        ("  notes: [anchor]\n", 4, "notes"),
    ],
)
def test_a_bad_row_kind_block_names_file_and_line(
    tmp_path: Path, defaults: str, line: int, text: str
) -> None:
    head = "step: worklog\ndefaults:\n  row: tickets\n"
    with pytest.raises(RuleValidationError) as info:
        _load(tmp_path, head + defaults + RULES_BODY)
    problem = info.value.problems[0]
    assert problem.file is not None and problem.file.endswith("worklog.yaml")
    assert (problem.line, text in problem.message) == (line, True), str(info.value)


def test_the_old_row_spelling_compiles_to_the_same_rules(tmp_path: Path) -> None:
    old_body = RULES_BODY.replace("row: notes", "row: note").replace("row: time_entries", "row: time_entry")
    old_rules = _load(tmp_path / "old", PER_KIND.replace("row: tickets", "row: ticket") + old_body)
    new_rules = _load(tmp_path / "new", PER_KIND + RULES_BODY)
    assert [_compiled(r) for r in old_rules] == [_compiled(r) for r in new_rules]
    assert [(r.kind, r.row_kind) for r in new_rules] == [
        ("tickets", "ticket"),
        ("notes", "note"),
        ("time_entries", "time_entry"),
    ]


def test_the_old_row_spelling_warns_with_file_line_and_rule(tmp_path: Path) -> None:
    old_body = RULES_BODY.replace("row: notes", "row: note")
    _load(tmp_path, PER_KIND.replace("row: tickets", "row: ticket") + old_body)
    ruleset = load_ruleset(tmp_path / "rules", Config())
    folder = tmp_path / "rules"
    assert ruleset.warnings == (
        f"{folder / 'worklog.yaml'}:3: row: ticket is deprecated, write row: tickets "
        "(the old spelling is read until the next release)",
        f"{folder / 'worklog.yaml'}:19: [LOG-02] row: note is deprecated, write row: notes "
        "(the old spelling is read until the next release)",
    )


def test_the_bundled_rules_use_the_current_spelling() -> None:
    assert load_ruleset(None, Config()).warnings == ()
