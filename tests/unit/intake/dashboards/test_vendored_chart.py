"""The console's Chart.js is the npm package package.json pins, copied by `make vendor`: the committed copy is that
version, and byte for byte node_modules' file whenever `npm ci` installed it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
VENDOR = ROOT / "services/intake/web/static/vendor"
INSTALLED = ROOT / "node_modules/chart.js"


def pinned_version() -> str:
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"]["chart.js"])


def test_the_committed_chart_js_is_the_pinned_version_with_its_licence() -> None:
    banner = (VENDOR / "chart.umd.min.js").read_text()[:200]
    version = re.search(r"Chart\.js v(\S+)", banner)
    assert version is not None
    assert version[1] == pinned_version()
    assert "MIT" in (VENDOR / "chart.js.LICENSE.md").read_text()


@pytest.mark.skipif(not INSTALLED.exists(), reason="node_modules/chart.js is installed by `npm ci` (make setup)")
def test_the_committed_chart_js_is_node_modules_copy() -> None:
    assert json.loads((INSTALLED / "package.json").read_text())["version"] == pinned_version()
    assert (VENDOR / "chart.umd.min.js").read_bytes() == (INSTALLED / "dist/chart.umd.min.js").read_bytes()
    assert (VENDOR / "chart.js.LICENSE.md").read_bytes() == (INSTALLED / "LICENSE.md").read_bytes()
