"""Errors for people: each names the stack, the service, the field, what is wrong and the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack file."""

    field: str
    """Dotted camelCase path inside the service spec (or the config key at stack level)."""
    message: str
    fix: str
    service: Optional[str] = None
    stock: bool = False
    """No region can run the service right now (stock, or where it runs cannot be told): not a
    mistake in the file, so only this service is held back; the others still deploy."""
    changes: tuple[Mapping[str, Any], ...] = ()
    """What each fix the message offers writes in the stack file (service-relative paths such as
    ``maxModelLen`` or ``resource.instanceTypes``), where a fix is one set of values: a test
    applies each and plans again (``components.core.hardware.fixes``)."""

    def describe(self, stack: str) -> str:
        where = f"stack {stack!r}"
        if self.service is not None:
            where += f", service {self.service!r}"
        return f"{where}, field {self.field!r}: {self.message}. Fix: {self.fix}."


class StackConfigError(ValueError):
    """A stack file that cannot be deployed. Raised before any resource is registered."""

    def __init__(self, stack: str, problems: Sequence[Problem]) -> None:
        self.stack = stack
        self.problems = tuple(problems)
        lines = [p.describe(stack) for p in self.problems]
        head = f"stack {stack!r} has {len(lines)} problem{'s' if len(lines) != 1 else ''}:"
        super().__init__(lines[0] if len(lines) == 1 else "\n".join([head, *("- " + line for line in lines)]))


class Findings:
    """What planning found about one service: problems (stop it), warnings, explanations."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.explain: list[str] = []

    def problem(self, field: str, message: str, fix: str, *, stock: bool = False,
                changes: Sequence[Mapping[str, Any]] = ()) -> None:
        self.problems.append(Problem(field, message, fix, self.service, stock, tuple(changes)))

    def extend(self, other: Findings) -> None:
        """Add what ``other`` found, after what this one found."""
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)
        self.explain.extend(other.explain)
