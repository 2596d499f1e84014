"""The Python example of docs/API.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "API.md"


def test_the_api_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/API.md has no python block"
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    out = capsys.readouterr().out
    assert "3000 5" in out and "(1000, 5)" in out
    assert "performance" in out and "'eps': 0.05" in out
    run = namespace["run"]
    assert run.routers == ["greedy-cost", "port", "approx-opt"]
