"""Safe patterns: which ones an admin may use, and what they are told when refused."""

import time

import pytest

from portal.forms import patterns
from portal.forms.patterns import PatternError, check_pattern, compile_pattern

ACCEPTED = [
    r"^[A-Z]{2}-\d{4}$",
    r"[A-Z]{2}-\d{4}",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$",
    r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
    r"^([a-z0-9-]+\.)+[a-z]{2,}$",
    r"^\+?[0-9 ()-]{6,20}$",
    r"^CR-\d{4}-\d{5}$",
    r"(ab|cd)*",
    r"(\d{1,3},)*\d{1,3}",
    r"^(?P<year>\d{4})-(?P<month>\d{2})$",
    r"(?i)^[a-z]+$",
    r"^\p{Han}+$".replace(r"\p{Han}", "[\u4e00-\u9fff]"),
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_ordinary_patterns_are_accepted(pattern):
    assert check_pattern(pattern) is None


def test_an_accepted_pattern_matches_the_whole_answer():
    regex = compile_pattern(r"[A-Z]{2}-\d{4}")
    assert regex.fullmatch("AB-1234")
    assert not regex.fullmatch("AB-12345")
    assert not regex.fullmatch("xAB-1234")
    email = compile_pattern(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
    assert email.fullmatch("li.wei@example.com.cn")
    assert not email.fullmatch("li.wei@example")


NESTED = "nested repetition like (a+)+ can take forever on some inputs"
OVERLAP = (
    "alternatives that can match the same text inside a repeat, like (a|ab)*, "
    "can take forever on some inputs"
)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a+)+", NESTED),
        (r"(\w*)*", NESTED),
        (r"(a{1,99}){2,}", NESTED),
        (r"^(\w+\s?)+$", NESTED),
        (r"(?:a+){10}", NESTED),
        (r"(a+xa+)+", NESTED),
        (r"((ab)*c*)+", NESTED),
        (r"(a|a)*", OVERLAP),
        (r"(a|ab)*", OVERLAP),
        (r"(a|b|ab)+", OVERLAP),
        (r"(x|\w)+", OVERLAP),
        (r"(?i)(A|ab){10,}", OVERLAP),
        (r"(?i)^(x|\w)+$", OVERLAP),
        (r"(?P<code>ab|ac)+", OVERLAP),
        (r"(?:[0-9]|\d)*", OVERLAP),
        (r"(a|)+", OVERLAP),
    ],
)
def test_patterns_that_run_away_in_a_backtracking_engine_are_refused(pattern, message):
    assert check_pattern(pattern) == (message, {})


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", "backreferences like \\1 are not supported"),
        (r"(?P<x>a)(?P=x)", "backreferences like \\1 are not supported"),
        (r"a(?=b)", "lookahead and lookbehind like (?=...) or (?<!...) are not supported"),
        (r"a(?!b)", "lookahead and lookbehind like (?=...) or (?<!...) are not supported"),
        (r"(?<=a)b", "lookahead and lookbehind like (?=...) or (?<!...) are not supported"),
        (r"(?<!a)b", "lookahead and lookbehind like (?=...) or (?<!...) are not supported"),
        (r"(a)?(?(1)b|c)", "conditional groups like (?(1)yes|no) are not supported"),
        (r"a++", "atomic groups and possessive repeats like (?>...) or a++ are not supported"),
        (r"(?>ab)", "atomic groups and possessive repeats like (?>...) or a++ are not supported"),
    ],
)
def test_features_re2_cannot_run_are_named(pattern, message):
    assert check_pattern(pattern) == (message, {})


def test_other_re2_limits_are_reported_with_re2s_words():
    msgid, params = check_pattern(r"abc\Z")
    assert msgid == patterns.UNSUPPORTED
    assert params == {"error": "invalid escape sequence: \\Z"}
    msgid, params = check_pattern(r"a{1001}")
    assert msgid % params == (
        "the pattern uses something the safe pattern engine cannot run: "
        "invalid repetition size: {1001}"
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (None, "the pattern must be text"),
        (42, "the pattern must be text"),
        ("", "the pattern is empty"),
        ("a" * 301, "the pattern is 301 characters long; the limit is 300"),
        (
            "[a-z",
            "this is not a valid regular expression: unterminated character set (at character 1)",
        ),
        ("a)", "this is not a valid regular expression: unbalanced parenthesis (at character 2)"),
        ("*a", "this is not a valid regular expression: nothing to repeat (at character 1)"),
    ],
)
def test_malformed_patterns_say_what_is_wrong(pattern, message):
    msgid, params = check_pattern(pattern)
    assert msgid % params == message


def test_a_pattern_of_exactly_300_characters_is_accepted():
    assert check_pattern("a" * 300) is None


def test_compile_pattern_refuses_what_check_pattern_refuses():
    with pytest.raises(PatternError) as error:
        compile_pattern(r"(a+)+$")
    assert str(error.value) == NESTED
    assert isinstance(error.value, ValueError)
    assert (error.value.msgid, error.value.params) == (NESTED, {})


def test_accepted_patterns_run_in_linear_time_on_hostile_input():
    regex = compile_pattern(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
    hostile = "a@" + "a." * 20000 + "!"
    started = time.perf_counter()
    assert not regex.fullmatch(hostile)
    assert time.perf_counter() - started < 1.0


def test_the_messages_are_plain_words_ready_for_translation():
    for msgid in (
        patterns.NESTED_REPEAT,
        patterns.OVERLAPPING_ALTERNATIVES,
        patterns.LOOKAROUND,
        patterns.BACKREFERENCE,
    ):
        assert msgid[0].islower()
        assert msgid % {} == msgid
