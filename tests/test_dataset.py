"""Validation of canonical frames (``table_from_frame``): every bad input names file, column,
row and value; the missing-value policies; save/load round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from routebench.dataset import (
    SOURCE_FILE_COL,
    SOURCE_ROW_COL,
    DatasetError,
    load_table,
    save_table,
    table_from_frame,
)
from routebench.errors import IntegrityError

FILE = "in.csv"


def frame(**overrides: object) -> pd.DataFrame:
    data: dict[str, object] = {
        "id": ["q0", "q1", "q2"],
        "prompt": ["alpha", "beta", "gamma"],
        "task": ["t", "t", "u"],
        "perf::a": [1.0, 0.0, 1.0],
        "perf::b": [0.0, 0.5, 1.0],
        "cost::a": [0.1, 0.2, 0.3],
        "cost::b": [0.01, 0.02, 0.03],
    }
    data.update(overrides)
    return pd.DataFrame({k: v for k, v in data.items() if v is not None})


def test_valid_frame_round_trips(tmp_path):
    table = table_from_frame(frame(), name="toy", file=FILE)
    assert table.models == ("a", "b")
    np.testing.assert_array_equal(table.perf, [[1, 0], [0, 0.5], [1, 1]])
    card = save_table(table, tmp_path / "toy")
    back = load_table(tmp_path / "toy")
    assert back.content_hash() == table.content_hash() == card["content_hash"]
    assert list(back.ids) == ["q0", "q1", "q2"]


@pytest.mark.parametrize(
    ("override", "column", "row", "value"),
    [
        ({"perf::b": [0.0, 1.5, 1.0]}, "perf::b", 1, "1.5"),
        ({"perf::a": [1.0, 0.0, -0.2]}, "perf::a", 2, "-0.2"),
        ({"cost::a": [0.1, -0.2, 0.3]}, "cost::a", 1, "-0.2"),
        ({"cost::b": [0.01, 0.02, np.inf]}, "cost::b", 2, "inf"),
        ({"perf::a": [1.0, "x", 1.0]}, "perf::a", 1, "'x'"),
    ],
)
def test_bad_values_name_file_column_row_value(override, column, row, value):
    with pytest.raises(DatasetError) as err:
        table_from_frame(frame(**override), file=FILE)
    msg = str(err.value)
    assert FILE in msg and repr(column) in msg and f"row {row}" in msg and value in msg


def test_nan_cost_is_a_missing_value():
    with pytest.raises(DatasetError, match=r"column 'cost::a', row 0 .*missing value"):
        table_from_frame(frame(**{"cost::a": [np.nan, 0.2, 0.3]}), file=FILE)


def test_missing_and_extra_model_columns():
    with pytest.raises(DatasetError, match="missing cost column for model 'b'"):
        table_from_frame(frame(**{"cost::b": None}), file=FILE)
    with pytest.raises(DatasetError, match="missing performance column for model 'b'"):
        table_from_frame(frame(**{"perf::b": None}), file=FILE)
    with pytest.raises(DatasetError, match="model 'c' is missing"):
        table_from_frame(frame(), file=FILE, models=["a", "b", "c"])
    with pytest.raises(DatasetError, match="unexpected model 'b'"):
        table_from_frame(frame(), file=FILE, models=["a"])


def test_zero_models_duplicated_ids_and_empty_prompts():
    no_models = frame(**{"perf::a": None, "perf::b": None, "cost::a": None, "cost::b": None})
    with pytest.raises(DatasetError, match="no model columns"):
        table_from_frame(no_models, file=FILE)
    with pytest.raises(DatasetError, match=r"column 'id', row 2: duplicated id 'q0'"):
        table_from_frame(frame(id=["q0", "q1", "q0"]), file=FILE)
    with pytest.raises(DatasetError, match=r"column 'prompt', row 1 \(id 'q1'\): empty prompt"):
        table_from_frame(frame(prompt=["alpha", "   ", "gamma"]), file=FILE)
    with pytest.raises(DatasetError, match="column 'prompt': required column is missing"):
        table_from_frame(frame(prompt=None), file=FILE)


def test_missing_scores_refused_then_dropped():
    bad = frame(**{"perf::b": [0.0, np.nan, 1.0]})
    with pytest.raises(DatasetError) as err:
        table_from_frame(bad, file=FILE)
    msg = str(err.value)
    assert "row 1" in msg and "'perf::b'" in msg and "--drop-missing" in msg and "--coalesce" in msg
    report: dict[str, int] = {}
    table = table_from_frame(bad, file=FILE, missing="drop", report=report)
    assert report == {"dropped": 1, "merged": 0}
    assert list(table.ids) == ["q0", "q2"]


def complementary() -> pd.DataFrame:
    """q1 appears twice: copy 1 scored LLM a only, copy 2 scored LLM b only (own costs)."""
    return pd.DataFrame(
        {
            "id": ["q0", "q1", "q2", "q1"],
            "prompt": ["p0", "p1 long", "p2", "p1 copy"],
            "task": ["t"] * 4,
            "perf::a": [1.0, 1.0, 0.0, np.nan],
            "perf::b": [0.0, np.nan, 1.0, 0.0],
            "cost::a": [0.1, 0.11, 0.12, 0.5],
            "cost::b": [0.2, 0.9, 0.22, 0.23],
        }
    )


def test_coalesce_merges_complementary_copies_with_their_own_costs():
    report: dict[str, int] = {}
    table = table_from_frame(complementary(), file=FILE, missing="coalesce", report=report)
    assert report == {"dropped": 0, "merged": 1}
    assert list(table.ids) == ["q0", "q1", "q2"]
    row = list(table.ids).index("q1")
    # Each LLM's score and cost come from the copy that scored it.
    np.testing.assert_array_equal(table.perf[row], [1.0, 0.0])
    np.testing.assert_array_equal(table.cost[row], [0.11, 0.23])
    assert table.prompts[row] == "p1 long"


def test_drop_removes_both_incomplete_copies():
    report: dict[str, int] = {}
    table = table_from_frame(complementary(), file=FILE, missing="drop", report=report)
    assert report["dropped"] == 2 and list(table.ids) == ["q0", "q2"]


def test_coalesce_keeps_conflicting_copies_and_refuses_them():
    bad = complementary()
    bad.loc[3, "perf::a"] = 0.0  # both copies scored LLM a, differently
    with pytest.raises(DatasetError, match="missing value|duplicated id 'q1'"):
        table_from_frame(bad, file=FILE, missing="coalesce")


def test_provenance_columns_name_the_real_file_and_row():
    f = frame(**{"perf::a": [1.0, 0.0, 2.0]})
    f[SOURCE_FILE_COL] = ["one.csv", "one.csv", "two.csv"]
    f[SOURCE_ROW_COL] = [0, 1, 0]
    with pytest.raises(DatasetError, match=r"^two\.csv, column 'perf::a', row 0 .*2\.0"):
        table_from_frame(f, file="folder")
    ok = table_from_frame(frame().assign(**{SOURCE_FILE_COL: "x", SOURCE_ROW_COL: 0}))
    assert SOURCE_FILE_COL not in ok.to_frame().columns


def test_load_refuses_a_changed_file(tmp_path, tiny_table):
    save_table(tiny_table, tmp_path / "s")
    frame_ = pd.read_parquet(tmp_path / "s" / "table.parquet")
    frame_.loc[0, f"cost::{tiny_table.models[0]}"] = 123.0
    frame_.to_parquet(tmp_path / "s" / "table.parquet")
    with pytest.raises(IntegrityError, match="content hash"):
        load_table(tmp_path / "s")
