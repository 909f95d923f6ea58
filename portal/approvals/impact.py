"""The impact matrix (变更影响矩阵): levels per dimension, the overall impact, and priority.

Four dimensions are rated low, medium or high: cost, time, resources and risk.  Each is
read from a form field.  An answer that is already a level (``low``, ``medium``, ``high``,
or ``低``, ``中``, ``高``) is taken as it is; a number is compared with the dimension's
thresholds::

    below the low bound            -> low       cost: < 5 (% of budget)    time: < 1 (week)
    from the low to the medium bound -> medium   cost: 5 to 15              time: 1 to 3
    above the medium bound         -> high      cost: > 15                 time: > 3

The overall impact is the highest level among the dimensions answered.  The priority
starts from the overall impact and is raised or lowered by business value and technical
feasibility (see :func:`priority` and docs/approvals.md).

Pure Python: used by the chain loader, the engine and the screens alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

LEVELS = ("low", "medium", "high")
DIMENSIONS = ("cost", "time", "resources", "risk")

DEFAULT_FIELDS: Mapping[str, str] = {
    "cost": "impact_cost",
    "time": "impact_time",
    "resources": "impact_resources",
    "risk": "impact_risk",
}
DEFAULT_THRESHOLDS: Mapping[str, Mapping[str, float]] = {
    "cost": {"low": 5, "medium": 15},  # percent of the budget
    "time": {"low": 1, "medium": 3},  # weeks
}

BUSINESS_VALUE_FIELD = "business_value"
FEASIBILITY_FIELD = "feasibility"

COMPUTED_NAMES = ("impact", "priority") + tuple(f"impact_{d}" for d in DIMENSIONS)
"""The names a ``when`` condition can use besides the form's fields."""

_SCORE = {level: i + 1 for i, level in enumerate(LEVELS)}
_LEVEL_WORDS = {"low": "low", "medium": "medium", "high": "high", "低": "low", "中": "medium"}
_LEVEL_WORDS["高"] = "high"


@dataclass(frozen=True)
class ImpactMatrix:
    """Where each dimension is read from, and the numeric thresholds of some of them.

    ``fields`` maps a dimension to a form field (a dimension left out is not measured);
    ``thresholds`` maps a dimension to ``{"low": a, "medium": b}``: a number below ``a``
    is low, from ``a`` up to ``b`` medium, above ``b`` high.
    """

    fields: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    thresholds: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {d: dict(t) for d, t in DEFAULT_THRESHOLDS.items()}
    )

    def level_of(self, dimension: str, answer: Any) -> str | None:
        """The level of one answer for ``dimension``, or None when it says nothing."""
        if isinstance(answer, str):
            word = _LEVEL_WORDS.get(answer.strip().lower())
            if word:
                return word
        number = _as_number(answer)
        bounds = self.thresholds.get(dimension)
        if number is None or bounds is None:
            return None
        if number < bounds["low"]:
            return "low"
        if number <= bounds["medium"]:
            return "medium"
        return "high"

    def is_default(self) -> bool:
        return not self.to_dict()

    def to_dict(self) -> dict:
        """The matrix as an admin writes it under ``chain.impact``: only what differs from
        the defaults (null for a default dimension or threshold that was taken away)."""
        data: dict[str, Any] = {}
        fields = {
            d: self.fields.get(d) for d in DIMENSIONS if self.fields.get(d) != DEFAULT_FIELDS.get(d)
        }
        if fields:
            data["fields"] = fields
        thresholds = {}
        for d in DIMENSIONS:
            mine, default = self.thresholds.get(d), DEFAULT_THRESHOLDS.get(d)
            if (dict(mine) if mine else None) != (dict(default) if default else None):
                thresholds[d] = dict(mine) if mine else None
        if thresholds:
            data["thresholds"] = thresholds
        return data


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Assessment:
    """The computed impact of one request: per dimension, overall, and the priority."""

    levels: Mapping[str, str | None]
    overall: str | None
    priority: str | None

    def names(self) -> dict[str, str | None]:
        """The computed names a ``when`` condition sees: impact, priority, impact_cost, ..."""
        names: dict[str, str | None] = {"impact": self.overall, "priority": self.priority}
        for dimension in DIMENSIONS:
            names[f"impact_{dimension}"] = self.levels.get(dimension)
        return names

    def to_dict(self) -> dict:
        return {"levels": dict(self.levels), "overall": self.overall, "priority": self.priority}

    @classmethod
    def from_dict(cls, data: Mapping) -> Assessment:
        return cls(dict(data["levels"]), data.get("overall"), data.get("priority"))


def highest(levels) -> str | None:
    """The highest of some levels (None are ignored); None when there is none."""
    known = [level for level in levels if level in _SCORE]
    return max(known, key=_SCORE.__getitem__) if known else None


def priority(
    overall: str | None, business_value: str | None = None, feasibility: str | None = None
) -> str | None:
    """The priority (high, medium, low) from the overall impact, weighed with business
    value and technical feasibility.

    Each is scored low 1, medium 2, high 3.  The score is the impact's, plus one for high
    business value and minus one for low business value, plus one for high feasibility and
    minus one for low feasibility (a missing value or feasibility counts as medium).  A
    score of 1 or less is low, 2 medium, 3 or more high.  No overall impact, no priority.
    """
    if overall not in _SCORE:
        return None
    score = _SCORE[overall]
    for weight in (business_value, feasibility):
        if weight in _SCORE:
            score += _SCORE[weight] - 2
    if score <= 1:
        return "low"
    if score == 2:
        return "medium"
    return "high"


def assess(matrix: ImpactMatrix, answers: Mapping[str, Any]) -> Assessment:
    """Rate every dimension of ``matrix`` from ``answers``; combine them into the overall
    impact and the priority."""
    levels = {
        dimension: matrix.level_of(dimension, answers.get(field_name))
        for dimension, field_name in matrix.fields.items()
        if field_name
    }
    overall = highest(levels.values())
    value = matrix.level_of("", answers.get(BUSINESS_VALUE_FIELD))
    feasibility = matrix.level_of("", answers.get(FEASIBILITY_FIELD))
    return Assessment(levels, overall, priority(overall, value, feasibility))
