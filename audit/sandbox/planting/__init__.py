"""The sandbox's violation plantings, one small function per planting, filed by rule id.

This package holds the registry (``@plants``, ``@binds``, the builder's ``Step`` s); the step
modules hold the plantings; ``catalog`` imports them all and is what the generator reads.

Each *planting* is one deliberate defect on one ticket, registered with ``@plants(key, ...)``
in the module of its workflow step (``intake``, ``qualification``, ``sla``, ``worklog``,
``escalation``, ``closure``, ``postmortem``). ``PLANTINGS[key]`` says which rules fail because
of it (cascades included), which ticket shape the generator forces first (``needs``), how the
ticket is placed in its ISO week (``window``) and how often it is planted (``rate``).

Adding a rule's planting is one function in its step's module; a rule that cannot be planted
is listed in ``NOT_PLANTED`` with the reason. Cascade decisions are documented on each planting
(the rule engine and ``oracle`` must read the catalog the same way); the ones that span
plantings:

- ``SLA-05h`` / ``QUA-10`` entries are the history-dependent failures (``needs_history`` in the
  ground truth); SLA-05h is recorded as SLA-05.
- ``needs`` tokens: ``email`` (an e-mail ticket), ``p12`` / ``p34`` / ``p3`` (priority level),
  ``esc`` / ``noesc``, ``vendor`` (Waiting Vendor), ``closed`` / ``open``, ``notnew``,
  ``resolved`` (open, with a resolution), ``aged`` (created at least 3 days before as-of, so a
  late response or resolution still lands before it), ``midweek`` (created at least 2 days into
  the week, so an entry dated before creation stays in the week).
"""

from __future__ import annotations

from audit.sandbox.planting._registry import WORKFLOW, Binding, Planting, Step, binds, plants

__all__ = ["WORKFLOW", "Binding", "Planting", "Step", "binds", "plants"]
