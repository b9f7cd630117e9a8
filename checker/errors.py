"""Located problems with the user's input (records, rules, parameters).

A problem is data, not an exception: every stage collects all of them so the user sees the
whole list at once, and the CLI turns a non-empty list into exit code 2 without a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    pointer: str
    message: str
    expected: str = ""
    kind: str = field(default="input", compare=False)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "pointer": self.pointer,
            "message": self.message,
            "expected": self.expected,
        }

    def render(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        at = f" at {self.pointer}" if self.pointer else ""
        exp = f" (expected: {self.expected})" if self.expected else ""
        return f"{where}{at}: {self.message}{exp}"


def sort_problems(problems) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.pointer, p.message))


class ProblemsFound(Exception):
    """Raised by a stage that cannot go on; carries every problem found so far."""

    def __init__(self, problems):
        self.problems = sort_problems(problems)
        super().__init__(f"{len(self.problems)} problem(s)")
