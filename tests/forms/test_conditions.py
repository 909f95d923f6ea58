"""The visible_if condition language: what an admin may write, and what it means."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from portal.forms.conditions import Condition, ConditionError, compile_condition

VECTORS = json.loads((Path(__file__).parent / "condition_vectors.json").read_text("utf-8"))
CASES = VECTORS["cases"]


def test_the_shared_vectors_cover_every_operator():
    trees = json.dumps([compile_condition(case["condition"]).tree for case in CASES])
    assert len(CASES) >= 40
    for op in ("and", "or", "not", "truthy", "==", "!=", "<", "<=", ">", ">=", "in", "not in"):
        assert f'"op": "{op}"' in trees, op
    assert {case["expected"] for case in CASES} == {True, False}


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i}:{case['condition']}" for i, case in enumerate(CASES)]
)
def test_shared_vector(case):
    condition = compile_condition(case["condition"])
    assert condition.evaluate(case["answers"]) is case["expected"], case["why"]


# --- what compiles, and into what


def test_examples_compile_to_the_documented_tree():
    assert compile_condition("reason == 'legal'").tree == {
        "op": "==",
        "left": {"var": "reason"},
        "right": {"value": "legal"},
    }
    assert compile_condition("impact_cost in ['medium', 'high'] and not urgent").tree == {
        "op": "and",
        "args": [
            {"op": "in", "left": {"var": "impact_cost"}, "right": {"list": ["medium", "high"]}},
            {"op": "not", "arg": {"op": "truthy", "arg": {"var": "urgent"}}},
        ],
    }
    assert compile_condition("'erp' in affected_systems").tree == {
        "op": "in",
        "left": {"value": "erp"},
        "right": {"var": "affected_systems"},
    }
    assert compile_condition("budget > -5000").tree["right"] == {"value": -5000}
    assert compile_condition("x not in (1, None, True)").tree["right"] == {"list": [1, None, True]}


def test_a_condition_lists_the_fields_it_reads():
    condition = compile_condition("a == 1 and (b or 'x' in c) and d > e")
    assert condition.names == frozenset("abcde")


def test_a_condition_may_span_lines_as_yaml_block_text_does():
    condition = compile_condition("reason == 'other'\nand urgent\n")
    assert condition.evaluate({"reason": "other", "urgent": "y"})
    assert condition.source == "reason == 'other'\nand urgent\n"


def test_the_tree_is_json_for_the_browser():
    condition = compile_condition("a in [1, 2.5, 'x', None, False] or not b")
    assert json.loads(json.dumps(condition.tree)) == condition.tree


def test_conditions_are_equal_by_source_and_hashable():
    assert compile_condition("a == 1") == compile_condition("a == 1")
    assert compile_condition("a == 1") != compile_condition("a == 2")
    assert len({compile_condition("a == 1"), compile_condition("a == 1")}) == 1


def test_known_names_refuse_an_unknown_field():
    assert compile_condition("a == 1", known_names={"a"}).names == {"a"}
    with pytest.raises(ConditionError) as error:
        compile_condition("a == 1 and colour == 'red'", known_names=["a"])
    assert str(error.value) == "there is no field named 'colour'"
    assert error.value.msgid == "there is no field named '%(name)s'"
    assert error.value.params == {"name": "colour"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("len(reason) > 3", "function calls like len(reason) are not allowed in a condition"),
        ("__import__('os')", "function calls like __import__('os') are not allowed"),
        ("reason.upper() == 'X'", "function calls like reason.upper()"),
        ("reason.lower == 'x'", "attributes like reason.lower are not allowed"),
        ("systems[0] == 'erp'", "indexing like systems[0] is not allowed"),
        ("(lambda: 1) == a", "lambda is not allowed"),
        ("f'{a}' == 'x'", "f-strings like f'{a}' are not allowed"),
        ("budget + 1 > 5", "arithmetic like budget + 1 is not allowed"),
        ("a if b else c", "'... if ... else ...' is not allowed"),
        ("(x := 1) == a", "':=' is not allowed"),
        ("1 < budget < 5", "chained comparisons like 1 < budget < 5 are not allowed; join two"),
        ("reason is None", "'is' and 'is not' are not allowed; use == or != instead"),
        ("reason == 'a' or 'b'", "'b' on its own is always true or always false"),
        ("True", "True on its own is always true or always false"),
        ("1 == 1", "1 == 1 compares two fixed values; one side must be a field name"),
        ("a == [1, 2]", "a list like [1, 2] can only follow 'in' or 'not in'"),
        ("a in [b, 'x']", "a list may hold only fixed values, not the field name 'b'"),
        ("a in [[1]]", "lists inside lists like [1] are not allowed"),
        ("a == {'k': 1}", "{'k': 1} is not allowed in a condition; use field names"),
        ("a == b'x'", "b'x' is not a value a condition can use"),
        ("a == 1e999", "1e999 is not a value a condition can use"),
        ("a == -b", "b is not allowed in a condition"),
        ("reason ==", "this is not a valid condition: invalid syntax (at the end)"),
        ("reason 'legal'", "this is not a valid condition: invalid syntax (at character 8)"),
        ("a == (1", "this is not a valid condition: '(' was never closed (at character 6)"),
        ("reason = 'legal'", "this is not a valid condition: use == to compare, not ="),
        ("", "the condition is empty"),
        ("   ", "the condition is empty"),
        ("a == '" + "x" * 2000 + "'", "the limit is 2000"),
    ],
)
def test_refused_conditions_say_why(source, message):
    with pytest.raises(ConditionError) as error:
        compile_condition(source)
    assert message in str(error.value)
    assert error.value.msgid % error.value.params == str(error.value)


def test_a_condition_must_be_text():
    with pytest.raises(ConditionError, match="a condition must be text"):
        compile_condition(True)


def test_absurd_nesting_is_refused_not_crashing():
    with pytest.raises(ConditionError):
        compile_condition("(" * 500 + "a" + ")" * 500)
    with pytest.raises(ConditionError):
        compile_condition(" and ".join(["not " * 300 + "a"] * 3))


# --- values only the server sees (parsed answers)


def test_parsed_numbers_decimals_and_floats_agree_with_the_browser():
    over = compile_condition("budget > 5000")
    assert over.evaluate({"budget": Decimal("5000.01")})
    assert not over.evaluate({"budget": Decimal("5000")})
    assert compile_condition("x == 0.1").evaluate({"x": Decimal("0.1")})
    assert compile_condition("x > 1").evaluate({"x": 10**400})


def test_parsed_dates_compare_like_the_iso_text_a_browser_sends():
    after = compile_condition("start >= '2026-01-01'")
    assert after.evaluate({"start": datetime.date(2026, 3, 1)})
    assert not after.evaluate({"start": datetime.date(2025, 12, 31)})
    assert compile_condition("start == '2026-03-01'").evaluate({"start": datetime.date(2026, 3, 1)})


def test_tuples_count_as_lists():
    assert compile_condition("'erp' in systems").evaluate({"systems": ("erp", "crm")})
    assert not compile_condition("systems").evaluate({"systems": ()})


def test_evaluate_accepts_any_mapping_and_returns_a_bool():
    from types import MappingProxyType

    condition = compile_condition("a")
    assert condition.evaluate(MappingProxyType({"a": "x"})) is True
    assert condition.evaluate({}) is False
    assert isinstance(condition, Condition)
