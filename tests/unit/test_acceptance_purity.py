"""`core/acceptance` stays pure: stdlib modules without I/O, msgspec, no clock, no randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sendtrail.core.acceptance as acceptance

ALLOWED_ROOTS = {
    "__future__",
    "collections",
    "dataclasses",
    "email",
    "enum",
    "math",
    "msgspec",
    "re",
    "sendtrail",
    "typing",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "urandom", "open"}

MODULES = sorted(Path(acceptance.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_acceptance_imports_nothing_that_does_io(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = {node.module.split(".")[0]}
            if node.module.startswith("sendtrail."):
                assert node.module.startswith("sendtrail.core."), node.module
        else:
            continue
        assert roots <= ALLOWED_ROOTS, f"imports {roots - ALLOWED_ROOTS}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_acceptance_never_reads_the_clock_files_or_randomness(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f".{name}()"
            assert not (
                isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "random"
            )
