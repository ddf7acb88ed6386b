"""Every package folder is listed in pyproject.toml, or a wheel install would miss it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = {"core": "sendtrail.core", "adapters": "sendtrail.adapters", "replay": "sendtrail.replay"}


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join([MAPPING[top], *init.parent.relative_to(ROOT / top).parts])
        for top in MAPPING
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed
    assert config["package-dir"] == {name: folder for folder, name in MAPPING.items()}
