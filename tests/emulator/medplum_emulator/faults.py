"""Fault injection: rules that make a resource operation fail or hang.

A rule is a JSON object::

    {"logicalId": "Bucket", "stack": "medplum-dev", "on": "create", "reason": "...",
     "times": 1, "hang": false}

``stack`` (a stack name) and ``times`` (how many matching operations fail before the rule is
spent) are optional; ``on`` is ``create``, ``update`` or ``delete``; ``hang: true`` keeps the
resource ``*_IN_PROGRESS`` until the operation is cancelled (CancelUpdateStack, DeleteStack)
instead of failing it. Rules come from ``MEDPLUM_EMULATOR_FAULTS`` (JSON, or ``@path`` to a JSON
file), from ``--faults FILE``, or from ``POST /medplum-emulator/faults``, which replaces the list.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPERATIONS = ("create", "update", "delete")
DEFAULT_REASON = "Injected fault (medplum-emulator)"


@dataclass
class Fault:
    logical_id: str
    on: str
    reason: str = DEFAULT_REASON
    stack: str | None = None
    times: int | None = None
    hang: bool = False

    def matches(self, stack: str, logical_id: str, on: str) -> bool:
        return (
            self.logical_id == logical_id
            and self.on == on
            and self.stack in (None, stack)
            and (self.times is None or self.times > 0)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "logicalId": self.logical_id,
            "on": self.on,
            "reason": self.reason,
            "stack": self.stack,
            "times": self.times,
            "hang": self.hang,
        }


def parse_rules(document: Any) -> list[Fault]:
    """Validates a fault list (a JSON array of rules); raises ValueError naming the bad field."""
    if not isinstance(document, list):
        raise ValueError("faults must be a JSON array of rules")
    rules = []
    for index, rule in enumerate(document):
        if not isinstance(rule, dict):
            raise ValueError(f"faults[{index}] must be an object")
        unknown = set(rule) - {"logicalId", "stack", "on", "reason", "times", "hang"}
        if unknown:
            raise ValueError(f"faults[{index}] has unknown field(s) {sorted(unknown)}")
        if not isinstance(rule.get("logicalId"), str) or not rule["logicalId"]:
            raise ValueError(f"faults[{index}].logicalId must be a non-empty string")
        if rule.get("on") not in OPERATIONS:
            raise ValueError(f"faults[{index}].on must be one of {list(OPERATIONS)}")
        times = rule.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError(f"faults[{index}].times must be a positive integer")
        if not isinstance(rule.get("hang", False), bool):
            raise ValueError(f"faults[{index}].hang must be a boolean")
        rules.append(
            Fault(
                logical_id=rule["logicalId"],
                on=rule["on"],
                reason=str(rule.get("reason") or DEFAULT_REASON),
                stack=rule.get("stack"),
                times=times,
                hang=rule.get("hang", False),
            )
        )
    return rules


def load_setting(setting: str) -> list[Fault]:
    """Rules from the env var's value: inline JSON, or ``@path`` naming a JSON file."""
    text = Path(setting[1:]).read_text() if setting.startswith("@") else setting
    return parse_rules(json.loads(text))


class FaultRegistry:
    """The current rules. Shared by the request threads (replace) and stack workers (take)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def replace(self, rules: list[Fault]) -> None:
        with self._lock:
            self._rules = list(rules)

    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def take(self, stack: str, logical_id: str, on: str) -> Fault | None:
        """The first rule matching this resource operation, counting one use of it."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(stack, logical_id, on):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


REGISTRY = FaultRegistry()
