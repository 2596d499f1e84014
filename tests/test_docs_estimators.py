"""The estimator tables of docs/ESTIMATORS.md and the README's estimator targets are generated
(docs/generate.py): each block equals what the runs give now (slow suite; a file of its own so
that pytest-xdist runs it beside tests/test_docs_results.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_docs_results import ROOT, _generate


@pytest.mark.slow
def test_estimator_blocks_reproduce(shared_slice: Path,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    gen = _generate()
    if not gen.ZEROEVAL.exists():
        pytest.skip(f"{gen.ZEROEVAL} is absent (it comes with ../shared)")
    runs = gen.estimator_runs(tmp_path_factory.mktemp("docs-estimators"), progress=False)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    doc = gen.ESTIMATORS_DOC.read_text(encoding="utf-8")
    assert gen.block(readme, "estimator-targets") == gen.estimator_targets_block(runs)
    assert gen.block(doc, "estimators") == gen.estimators_block(runs)
