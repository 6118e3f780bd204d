"""The fuzzer's counts, and the summary a run ends with (cases sent, statuses, mutations, the
known defects not sent). Light on imports: the top-level conftest imports the hook so the
summary appears under xdist too, where only the controller writes the terminal summary."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    cases: int = 0
    answered: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> str:
        return json.dumps({"cases": self.cases, "answered": self.answered, "statuses": self.statuses,
                           "mutations": self.mutations, "operations": self.operations})

    @classmethod
    def from_json(cls, text: str) -> Stats:
        d = json.loads(text)
        return cls(d["cases"], d["answered"], Counter(d["statuses"]), Counter(d["mutations"]),
                   Counter(d["operations"]))

    def merge(self, other: Stats) -> None:
        self.cases += other.cases
        self.answered += other.answered
        for mine, theirs in ((self.statuses, other.statuses), (self.mutations, other.mutations),
                             (self.operations, other.operations)):
            mine.update(theirs)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # The counts travel from the (xdist worker) tests in each report's user_properties.
    stats = Stats()
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "fuzz_stats" and getattr(report, "when", "") == "call":
                    stats.merge(Stats.from_json(value))
    if not stats.cases:
        return
    tr = terminalreporter
    tr.section(f"protocol fuzzer ({os.environ.get('SLUICE_FUZZ', 'quick')} profile)")
    tr.write_line(f"cases sent: {stats.cases}, answered: {stats.answered} "
                  f"(the rest hung up mid-body on purpose); statuses: {dict(sorted(stats.statuses.items()))}")
    tr.write_line(f"mutations: {dict(stats.mutations.most_common())}")
    tr.write_line(f"operations: {len(stats.operations)} distinct")
