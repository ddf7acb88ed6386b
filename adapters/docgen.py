"""Regenerates the parts of docs/ that are derived from code (``make docs``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import msgspec

from sendtrail.core.events import EVENT_TYPES, UPCASTERS
from sendtrail.core.lifecycle import INITIAL_STATE, NEXT_STATE, START_EVENT, mermaid_diagram

LIFECYCLE_BLOCK = re.compile(r"(<!-- lifecycle:start -->\n).*?(<!-- lifecycle:end -->)", re.S)
EVENTS_BLOCK = re.compile(r"(<!-- events:start -->\n).*?(<!-- events:end -->)", re.S)


def lifecycle_block() -> str:
    return f"```mermaid\n{mermaid_diagram()}```\n"


def events_block() -> str:
    """The event catalogue: every event type, its schema, its moves and its fields."""
    out: list[str] = []
    for name, cls in EVENT_TYPES.items():
        moves = sorted(
            f"{source} → {dest}"
            for (source, trigger), dest in NEXT_STATE.items()
            if trigger == name
        )
        if name == START_EVENT:
            moves = [f"(new message) → {INITIAL_STATE}"]
        older = sorted(schema for (event, schema) in UPCASTERS if event == name)
        out.append(f"### {name} (schema {cls.SCHEMA})\n")
        out.append(f"{(cls.__doc__ or '').strip().splitlines()[0] if cls.__doc__ else ''}\n")
        out.append(f"- moves: {', '.join(moves) if moves else 'none'}")
        if older:
            out.append(f"- older schemas upcast on read: {', '.join(map(str, older))}")
        out.append("- fields:")
        for field in msgspec.structs.fields(cls):
            optional = "" if field.required else " (optional)"
            out.append(f"  - `{field.name}`: `{_type_name(field.type)}`{optional}")
        out.append("")
    return "\n".join(out)


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    for prefix in ("typing.", "datetime.", "sendtrail.core.events."):
        text = text.replace(prefix, "")
    return text


def refresh(doc: Path, pattern: re.Pattern[str], block: str) -> bool:
    """Rewrite a generated block in ``doc``; True when it changed."""
    text = doc.read_text(encoding="utf-8")
    updated = pattern.sub(lambda m: m[1] + block + m[2], text)
    if updated != text:
        doc.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")
    for name, pattern, block in (
        ("lifecycle.md", LIFECYCLE_BLOCK, lifecycle_block()),
        ("events.md", EVENTS_BLOCK, events_block()),
    ):
        changed = refresh(root / name, pattern, block)
        print(f"docs/{name} " + ("updated" if changed else "already up to date"))
