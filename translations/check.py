"""Check a message catalogue the way the test suite does: every message translated, none
fuzzy, the same %(placeholders)s as the English, the right number of plural forms."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?[sdifr%]")


def placeholders(text: str) -> set[str]:
    return {m.group(0) if m.group(1) is None else f"%({m.group(1)})" for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%"}


def problems(po_path: Path) -> list[str]:
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    found = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        label = ids[0][:60]
        if message.fuzzy:
            found.append(f"fuzzy: {label}")
        if isinstance(message.id, tuple) and len(strings) != catalogue.num_plurals:
            found.append(f"needs {catalogue.num_plurals} plural forms: {label}")
        for index, text in enumerate(strings):
            if not text:
                found.append(f"untranslated: {label}")
                break
            source = ids[min(index, len(ids) - 1)]
            wanted = placeholders(source) | (placeholders(ids[-1]) if len(ids) > 1 else set())
            if not placeholders(text) <= wanted or (len(ids) == 1 and placeholders(text) != placeholders(source)):
                found.append(f"placeholders differ: {label} -> {text[:60]}")
                break
    return found


if __name__ == "__main__":
    failures = 0
    for path in sys.argv[1:] or sorted(Path(__file__).parent.glob("*/LC_MESSAGES/messages.po")):
        listed = problems(Path(path))
        failures += len(listed)
        print(f"{path}: {len(listed)} problem(s)")
        for line in listed[:40]:
            print("  " + line)
    sys.exit(1 if failures else 0)
