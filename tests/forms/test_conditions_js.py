"""conditions.js gives the same answers as the server on every shared vector."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.forms.conditions import compile_condition

HERE = Path(__file__).parent
SCRIPT = HERE.parents[1] / "portal" / "static" / "js" / "conditions.js"
VECTORS = json.loads((HERE / "condition_vectors.json").read_text("utf-8"))

# Loads conditions.js the way a page does (a plain script that sets window.PortalConditions),
# in a fresh context with nothing from Node in reach, then evaluates every case from stdin.
DRIVER = """
const fs = require("fs");
const vm = require("vm");
const context = vm.createContext({ window: {} });
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), context, { filename: "conditions.js" });
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const results = cases.map((c) => context.window.PortalConditions.evaluate(c.tree, c.answers));
process.stdout.write(JSON.stringify(results));
"""


def run_in_node(cases: list[dict]) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser evaluator cannot be checked here")
    payload = [
        {"tree": compile_condition(case["condition"]).tree, "answers": case["answers"]}
        for case in cases
    ]
    completed = subprocess.run(
        [node, "-e", DRIVER, str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_browser_and_server_agree_on_every_shared_vector():
    cases = VECTORS["cases"]
    results = run_in_node(cases)
    wrong = [
        f"{case['condition']!r} with {json.dumps(case['answers'])}: expected "
        f"{case['expected']}, node said {result} ({case['why']})"
        for case, result in zip(cases, results, strict=True)
        if result is not case["expected"]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_script_is_plain_es2017_without_modules():
    source = SCRIPT.read_text("utf-8")
    for modern in ("?.", "??", "import ", "export ", "require("):
        assert modern not in source, modern
