"""The docs say what the code does: generated parts are current, code blocks run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sendtrail.adapters.docgen import EVENTS_BLOCK, events_block

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_event_catalogue_is_generated_from_the_current_events() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    match = EVENTS_BLOCK.search(text)
    assert match is not None
    assert match[0] == f"<!-- events:start -->\n{events_block()}<!-- events:end -->", (
        "docs/events.md is stale: run `make docs`"
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_python_blocks_in_the_docs_run(
    document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", document.read_text(encoding="utf-8"), re.S)
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{document.name} block {number}", "exec"), {"__name__": "__doc__"})
