"""Every hook a plug-in can implement is documented in docs/plugins.md and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from portal import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "plugins.md").read_text("utf-8")
HOOKS = sorted(
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "portal_spec")
)
TEST_TEXT = {
    path: path.read_text("utf-8")
    for path in (ROOT / "tests").rglob("*.py")
    if path.name != Path(__file__).name
}


def test_the_hooks_are_found():
    assert "register_connectors" in HOOKS and "event_committed" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_has_a_doc_entry_with_its_signature(hook):
    assert re.search(rf"^### {hook}$", DOCS, re.M), f"docs/plugins.md has no '### {hook}'"
    section = DOCS.split(f"### {hook}", 1)[1].split("\n### ", 1)[0]
    assert f"{hook}(" in section, f"the entry for {hook} does not show its signature"
    assert "@hookimpl" in section, f"the entry for {hook} has no example"


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_is_named_by_a_test(hook):
    assert any(hook in text for text in TEST_TEXT.values()), f"no test in tests/ names {hook}"
