"""Regenerates the parts of docs/ that are derived from code (``make docs``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sendtrail.core.lifecycle import mermaid_diagram

LIFECYCLE_BLOCK = re.compile(r"(<!-- lifecycle:start -->\n).*?(<!-- lifecycle:end -->)", re.S)


def lifecycle_block() -> str:
    return f"```mermaid\n{mermaid_diagram()}```\n"


def refresh_lifecycle(doc: Path) -> bool:
    """Rewrite the diagram in ``doc``; True when it changed."""
    text = doc.read_text(encoding="utf-8")
    updated = LIFECYCLE_BLOCK.sub(lambda m: m[1] + lifecycle_block() + m[2], text)
    if updated != text:
        doc.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")
    changed = refresh_lifecycle(root / "lifecycle.md")
    print("docs/lifecycle.md " + ("updated" if changed else "already up to date"))
