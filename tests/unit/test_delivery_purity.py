"""`core/delivery` stays pure: it imports only the stdlib modules it needs and msgspec."""

from __future__ import annotations

import ast
from pathlib import Path

import sendtrail.core.delivery as delivery

ALLOWED_ROOTS = {
    "__future__",
    "collections",
    "datetime",
    "email",
    "enum",
    "hashlib",
    "msgspec",
    "random",  # only `random.Random(seed)`: a private generator, deterministic for the seed
    "re",
    "sendtrail",
    "typing",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "urandom", "getrandbits"}


def _modules() -> list[Path]:
    return sorted(Path(delivery.__file__).parent.glob("*.py"))


def test_delivery_imports_nothing_that_does_io() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
                if node.module.startswith("sendtrail."):
                    assert node.module.startswith("sendtrail.core."), f"{path.name}: {node.module}"
            else:
                continue
            assert roots <= ALLOWED_ROOTS, f"{path.name} imports {roots - ALLOWED_ROOTS}"


def test_delivery_never_reads_the_clock_or_global_randomness() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                call = node.func
                assert call.attr not in FORBIDDEN_CALLS, f"{path.name}: .{call.attr}()"
                if isinstance(call.value, ast.Name) and call.value.id == "random":
                    assert call.attr == "Random", f"{path.name}: random.{call.attr}()"
