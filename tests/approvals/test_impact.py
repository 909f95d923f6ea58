"""The impact matrix (变更影响矩阵) and priority, as the admin guide describes them."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from portal.approvals.definition import load_chain
from portal.approvals.impact import (
    COMPUTED_NAMES,
    LEVELS,
    Assessment,
    ImpactMatrix,
    assess,
    highest,
    priority,
)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "approvals.md"
DEFAULT = ImpactMatrix()


@pytest.mark.parametrize(
    "answer, level",
    [
        (0, "low"),
        (4.99, "low"),
        ("4.9", "low"),
        (5, "medium"),
        (Decimal("10"), "medium"),
        (15, "medium"),
        ("15", "medium"),
        (15.01, "high"),
        (40, "high"),
        (-3, "low"),
    ],
)
def test_cost_in_percent_of_the_budget(answer, level):
    """DOMAIN.md: < 5 % low, 5 %–15 % medium, > 15 % high."""
    assert DEFAULT.level_of("cost", answer) == level


@pytest.mark.parametrize(
    "weeks, level", [(0.5, "low"), (1, "medium"), (2, "medium"), (3, "medium"), (3.5, "high")]
)
def test_time_in_weeks(weeks, level):
    """DOMAIN.md: < 1 week low, 1–3 weeks medium, > 3 weeks high."""
    assert DEFAULT.level_of("time", weeks) == level


@pytest.mark.parametrize(
    "answer, level",
    [
        ("low", "low"),
        ("Medium", "medium"),
        (" high ", "high"),
        ("低", "low"),
        ("中", "medium"),
        ("高", "high"),
    ],
)
@pytest.mark.parametrize("dimension", ["cost", "time", "resources", "risk"])
def test_an_answer_that_is_a_level_is_taken_as_it_is(dimension, answer, level):
    assert DEFAULT.level_of(dimension, answer) == level


@pytest.mark.parametrize("answer", [None, "", "a lot", True, False, ["high"], float("nan"), {}])
def test_an_answer_that_says_nothing_has_no_level(answer):
    assert DEFAULT.level_of("cost", answer) is None


def test_a_number_for_a_dimension_without_thresholds_has_no_level():
    assert DEFAULT.level_of("risk", 10) is None


def test_the_overall_impact_is_the_highest_dimension():
    answers = {"impact_cost": "low", "impact_time": "medium", "impact_risk": "low"}
    result = assess(DEFAULT, answers)
    assert result.levels == {"cost": "low", "time": "medium", "resources": None, "risk": "low"}
    assert result.overall == "medium"
    answers["impact_resources"] = "high"
    assert assess(DEFAULT, answers).overall == "high"


def test_no_answers_no_impact_and_no_priority():
    result = assess(DEFAULT, {"business_value": "high"})
    assert result.overall is None and result.priority is None
    assert result.names() == {
        "impact": None,
        "priority": None,
        "impact_cost": None,
        "impact_time": None,
        "impact_resources": None,
        "impact_risk": None,
    }


def test_the_computed_names_are_the_ones_when_can_use():
    result = assess(DEFAULT, {"impact_cost": "high", "business_value": "low"})
    assert tuple(result.names()) == COMPUTED_NAMES
    assert result.names()["impact"] == "high"
    assert result.names()["priority"] == "medium"


def test_highest():
    assert highest([None, "low", "high", "medium"]) == "high"
    assert highest([None, "bogus"]) is None
    assert LEVELS == ("low", "medium", "high")


# --- priority ----------------------------------------------------------------------------

# overall impact, business value -> priority with feasibility low, medium (or none), high
PRIORITY_TABLE = {
    ("low", "low"): ("low", "low", "low"),
    ("low", "medium"): ("low", "low", "medium"),
    ("low", "high"): ("low", "medium", "high"),
    ("medium", "low"): ("low", "low", "medium"),
    ("medium", "medium"): ("low", "medium", "high"),
    ("medium", "high"): ("medium", "high", "high"),
    ("high", "low"): ("low", "medium", "high"),
    ("high", "medium"): ("medium", "high", "high"),
    ("high", "high"): ("high", "high", "high"),
}


@pytest.mark.parametrize("impact, value", sorted(PRIORITY_TABLE))
def test_priority_weighs_business_value_against_feasibility(impact, value):
    low, medium, high = PRIORITY_TABLE[impact, value]
    assert priority(impact, value, "low") == low
    assert priority(impact, value, "medium") == medium
    assert priority(impact, value, None) == medium
    assert priority(impact, value, "high") == high


@pytest.mark.parametrize("impact", LEVELS)
def test_without_a_business_value_the_impact_sets_the_priority(impact):
    assert priority(impact) == impact
    assert priority(impact, None, None) == priority(impact, "medium", "medium")


def test_no_impact_means_no_priority():
    assert priority(None, "high", "high") is None


def test_priority_reads_business_value_and_feasibility_from_the_answers():
    answers = {"impact_cost": "medium", "business_value": "high", "feasibility": "低"}
    assert assess(DEFAULT, answers).priority == "medium"
    answers["feasibility"] = "high"
    assert assess(DEFAULT, answers).priority == "high"


def test_the_priority_table_in_the_admin_guide_is_the_one_the_code_uses():
    guide = GUIDE.read_text("utf-8")
    section = guide.split("### Priority", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(
        r"^\| (low|medium|high) \| (low|medium|high) \| (\w+) \| (\w+) \| (\w+) \|$",
        section,
        re.MULTILINE,
    )
    assert {(impact, value): tuple(rest) for impact, value, *rest in rows} == PRIORITY_TABLE


# --- an admin's own matrix ---------------------------------------------------------------


def test_an_admin_can_move_the_bounds_and_read_numbers_from_other_fields():
    chain = load_chain(
        {
            "impact": {
                "fields": {"cost": "cost_percent", "time": "weeks", "risk": None},
                "thresholds": {"cost": {"low": 2, "medium": 8}, "time": {"low": 2, "medium": 6}},
            },
            "steps": [{"name": "ok", "kind": "confirmation"}],
        },
        field_names={"cost_percent", "weeks", "impact_resources"},
    )
    result = assess(chain.impact, {"cost_percent": "9", "weeks": 1.5, "impact_risk": "high"})
    assert result.levels == {"cost": "high", "time": "low", "resources": None}
    assert result.overall == "high"
    assert "risk" not in result.levels  # not measured: the admin took it away


def test_the_default_matrix_is_written_as_nothing():
    assert DEFAULT.to_dict() == {}
    assert DEFAULT.is_default()
    changed = ImpactMatrix(
        fields={"cost": "impact_cost"}, thresholds={"cost": {"low": 1, "medium": 2}}
    )
    assert changed.to_dict() == {
        "fields": {"time": None, "resources": None, "risk": None},
        "thresholds": {"cost": {"low": 1, "medium": 2}, "time": None},
    }


def test_an_assessment_round_trips_through_plain_data():
    result = assess(DEFAULT, {"impact_cost": "high", "impact_time": 2, "business_value": "low"})
    assert Assessment.from_dict(result.to_dict()) == result
    assert result.to_dict() == {
        "levels": {"cost": "high", "time": "medium", "resources": None, "risk": None},
        "overall": "high",
        "priority": "medium",
    }
