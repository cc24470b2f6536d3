"""RESULTS.md sections that a benchmark owns: written between its markers, replaced in place."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def replace_section(path: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` between ``begin`` and ``end`` in ``path``: in place of the section already
    there, else appended (the rest of the file is kept as it is)."""
    current = path.read_text() if path.exists() else ""
    section = f"{begin}\n{text}\n{end}"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1]
        path.write_text(head + section + tail)
    else:
        path.write_text(current.rstrip("\n") + "\n\n" + section + "\n")
