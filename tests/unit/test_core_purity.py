"""``core/`` stays pure: no I/O packages, no clock, no files, no unseeded randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
MODULES = sorted(CORE.rglob("*.py"))

ALLOWED_ROOTS = {
    "__future__",
    "codecs",
    "collections",
    "dataclasses",
    "datetime",
    "email",
    "enum",
    "functools",
    "hashlib",
    "html",
    "itertools",
    "json",
    "math",
    "msgspec",
    "re",
    "string",
    "transitions",
    "typing",
    "unicodedata",
    "uuid",
    "concurrent",  # only for the Future type in the store port
    "random",  # only random.Random(seed): a caller-seeded, deterministic generator
    "sendtrail",
}
# The clock, the filesystem, entropy and the process-wide random generator.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "urandom",
                   "open", "uuid1", "uuid4", "getrandbits", "sleep"}  # fmt: skip


def _imports(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("sendtrail."):
                assert node.module.startswith("sendtrail.core"), f"core imports {node.module}"
    return roots


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(CORE)))
def test_core_imports_nothing_that_does_io(path: Path) -> None:
    roots = _imports(ast.parse(path.read_text(encoding="utf-8")))
    assert roots <= ALLOWED_ROOTS, f"{path.name} imports {sorted(roots - ALLOWED_ROOTS)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(CORE)))
def test_core_never_reads_the_clock_files_or_randomness(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"
        if isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "random":
            assert func.attr == "Random", f"{path.name} calls random.{func.attr}()"
