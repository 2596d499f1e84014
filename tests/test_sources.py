"""The dataset sources: importers round-trip files in the real schemas, the synthetic generator
looks like RouterBench, unreachable hosts fail fast, and the real slice imports as documented."""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import routebench.sources as sources
from routebench.dataset import DatasetError, load_table
from routebench.sources import SourceUnavailable, download, source_config
from routebench.sources.routerbench import unwrap_prompt
from routebench.sources.synthetic import generate

# --------------------------------------------------------------------------- routerbench


def test_unwrap_prompt():
    assert unwrap_prompt("['one']") == "one"
    assert unwrap_prompt("['one', 'two']") == "one\n\ntwo"
    assert unwrap_prompt("[not a list") == "[not a list"
    assert unwrap_prompt("[1, 2]") == "[1, 2]"  # not a list of strings: kept as text
    assert unwrap_prompt("plain") == "plain"


@pytest.mark.parametrize("fmt", ["csv", "pkl", "parquet"])
def test_routerbench_wide_round_trip(fmt, tmp_path, fixtures_dir):
    wide = pd.read_csv(fixtures_dir / "routerbench_wide.csv")
    path = tmp_path / f"rb.{fmt}"
    {"csv": lambda: shutil.copy(fixtures_dir / "routerbench_wide.csv", path),
     "pkl": lambda: wide.to_pickle(path),
     "parquet": lambda: wide.to_parquet(path)}[fmt]()
    opt_in = {"allow_pickle": True} if fmt == "pkl" else {}
    table, card, report = download("routerbench", data_dir=tmp_path / "data", from_path=path,
                                   **opt_in)
    assert table.models == ("gpt-4-1106-preview", "mistralai/mistral-7b-chat")
    assert list(table.ids) == list(wide["sample_id"])
    assert list(table.tasks) == list(wide["eval_name"])
    for i, m in enumerate(table.models):
        np.testing.assert_array_equal(table.perf[:, i], wide[m].to_numpy())
        np.testing.assert_array_equal(table.cost[:, i], wide[m + "|total_cost"].to_numpy())
    assert table.prompts[0] == "What is 2+2?\nA) 3\nB) 4"
    assert table.prompts[1] == "Capital of France?\n\nAnswer briefly."
    assert table.prompts[2] == "Tom has 3 apples and buys 2. How many?"
    assert card["source"] == "routerbench" and report["n"] == 4
    stored = load_table(tmp_path / "data" / "routerbench")
    assert stored.content_hash() == table.content_hash()


def test_routerbench_folder_errors_name_the_real_file(tmp_path, fixtures_dir):
    wide = pd.read_csv(fixtures_dir / "routerbench_wide.csv")
    folder = tmp_path / "in"
    folder.mkdir()
    wide.iloc[:2].to_csv(folder / "a.csv", index=False)
    bad = wide.iloc[2:].copy()
    bad.iloc[1, bad.columns.get_loc("gpt-4-1106-preview")] = 3.0
    bad.to_csv(folder / "b.csv", index=False)
    with pytest.raises(DatasetError) as err:
        download("routerbench", data_dir=tmp_path / "data", from_path=folder)
    msg = str(err.value)
    assert str(folder / "b.csv") in msg and "row 1" in msg and "3.0" in msg
    assert "perf::gpt-4-1106-preview" in msg
    assert not (tmp_path / "data").exists()


def test_routerbench_missing_score_column(tmp_path, fixtures_dir):
    wide = pd.read_csv(fixtures_dir / "routerbench_wide.csv").drop(columns=["gpt-4-1106-preview"])
    wide.to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DatasetError, match="score column is missing for model 'gpt-4-1106"):
        download("routerbench", data_dir=tmp_path / "d", from_path=tmp_path / "x.csv")
    wide[["sample_id", "prompt", "eval_name"]].to_csv(tmp_path / "y.csv", index=False)
    with pytest.raises(DatasetError, match="zero models"):
        download("routerbench", data_dir=tmp_path / "d", from_path=tmp_path / "y.csv")


def test_slice_import_numbers(shared_slice, tmp_path):
    with pytest.raises(DatasetError) as err:
        download("routerbench", data_dir=tmp_path, from_path=shared_slice)
    msg = str(err.value)
    assert "arc_challenge_test.csv" in msg and "row 354" in msg and "missing value" in msg
    assert "--drop-missing" in msg and "--coalesce" in msg

    dropped, _, rep = download(
        "routerbench", data_dir=tmp_path, from_path=shared_slice, missing="drop", out="rb-drop"
    )
    assert (dropped.n, dropped.m, rep["dropped"]) == (3150, 11, 28)
    merged, _, rep = download(
        "routerbench", data_dir=tmp_path, from_path=shared_slice, missing="coalesce", out="rb-co"
    )
    assert (merged.n, merged.m, rep["merged"]) == (3164, 11, 14)
    assert merged.task_counts() == {"arc-challenge": 1470, "mbpp": 427, "winogrande": 1267}

    raw = pd.concat(pd.read_csv(f) for f in sorted(glob.glob(str(shared_slice / "*.csv"))))
    for i, m in enumerate(merged.models):
        scored = raw.dropna(subset=[m]).set_index("sample_id")
        np.testing.assert_array_equal(merged.cost[:, i], scored.loc[merged.ids, m + "|total_cost"])
        np.testing.assert_array_equal(merged.perf[:, i], scored.loc[merged.ids, m])


# --------------------------------------------------------------------------- sprout


def test_sprout_round_trip_jsonl_and_parquet(tmp_path, fixtures_dir):
    src = fixtures_dir / "sprout_sample.jsonl"
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    prices = source_config("sprout")["prices_per_1m_tokens"]
    pq = tmp_path / "train.parquet"
    pd.read_json(src, lines=True).to_parquet(pq)
    for path in (src, pq):
        table, card, _ = download("sprout", data_dir=tmp_path / "d", from_path=path, force=True)
        assert table.models == ("openai-gpt-4o", "llama-3-2-1b-instruct")
        assert list(table.tasks) == [r["dataset"] for r in rows]
        for i, m in enumerate(table.models):
            rec = [r[m] for r in rows]
            np.testing.assert_array_equal(table.perf[:, i], [r["score"] for r in rec])
            want = [
                (r["num_input_tokens"] * prices[m]["input"]
                 + r["num_output_tokens"] * prices[m]["output"]) / 1e6
                for r in rec
            ]
            np.testing.assert_allclose(table.cost[:, i], want, rtol=1e-12)
        assert card["prices_per_1m_tokens"]["openai-gpt-4o"] == {"input": 2.5, "output": 10.0}


def test_sprout_unpriced_model_and_bad_tokens(tmp_path, fixtures_dir):
    frame = pd.read_json(fixtures_dir / "sprout_sample.jsonl", lines=True)
    frame = frame.rename(columns={"openai-gpt-4o": "mystery-llm"})
    frame.to_json(tmp_path / "x.jsonl", orient="records", lines=True)
    with pytest.raises(DatasetError, match="no price for model 'mystery-llm'"):
        download("sprout", data_dir=tmp_path / "d", from_path=tmp_path / "x.jsonl")
    frame = pd.read_json(fixtures_dir / "sprout_sample.jsonl", lines=True)
    frame.at[1, "openai-gpt-4o"] = {"score": 1.0, "num_input_tokens": -5, "num_output_tokens": 1}
    frame.to_json(tmp_path / "y.jsonl", orient="records", lines=True)
    with pytest.raises(DatasetError, match=r"'openai-gpt-4o'.num_input_tokens, row 1.*negative"):
        download("sprout", data_dir=tmp_path / "d", from_path=tmp_path / "y.jsonl")


# --------------------------------------------------------------------------- leaderboard


def test_leaderboard_folder_joins_models(tmp_path, fixtures_dir):
    table, card, _ = download(
        "leaderboard-v2", data_dir=tmp_path, from_path=fixtures_dir / "leaderboard"
    )
    assert table.models == ("Qwen__Qwen2.5-7B-Instruct", "google__gemma-2-9b-it")
    assert list(table.ids) == [
        "leaderboard_mmlu_pro/0", "leaderboard_mmlu_pro/1", "leaderboard_math_hard/0",
    ]
    np.testing.assert_array_equal(table.perf, [[1, 0], [0, 1], [1, 0]])
    q = "Question: What is the boiling point of water at sea level?"
    assert table.prompts[0] == q
    # Three choices scored: every (context + continuation) counts as input, 1 output per request.
    chars = sum(len(q) + len(" " + c) for c in ("90 C", "100 C", "110 C"))
    price = source_config("leaderboard-v2")["models"]["google__gemma-2-9b-it"]
    want = (np.ceil(chars / 4) * price["input"] + 3 * price["output"]) / 1e6
    assert table.cost[0, 1] == pytest.approx(want)
    # Generation: input from the context only, output tokens from the response text.
    q_in = np.ceil(len("Problem: What is 6 * 7?") / 4)
    for i, resp in ((0, "The answer is 42."), (1, "I think it is 41 because ...")):
        p = source_config("leaderboard-v2")["models"][table.models[i]]
        want = (q_in * p["input"] + np.ceil(len(resp) / 4) * p["output"]) / 1e6
        assert table.cost[2, i] == pytest.approx(want)
    assert "characters" in card["notes"]


def test_leaderboard_missing_sample_needs_an_option(tmp_path, fixtures_dir):
    folder = tmp_path / "lb"
    shutil.copytree(fixtures_dir / "leaderboard", folder)
    path = folder / "google__gemma-2-9b-it.jsonl"
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(DatasetError, match="Qwen__Qwen2.5-7B-Instruct.jsonl.*row 2.*missing"):
        download("leaderboard-v2", data_dir=tmp_path / "d", from_path=folder)
    table, _, rep = download(
        "leaderboard-v2", data_dir=tmp_path / "d", from_path=folder, missing="drop"
    )
    assert table.n == 2 and rep["dropped"] == 1


# --------------------------------------------------------------------------- network


def test_unreachable_hub_fails_fast_with_a_hint(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sources.socket, "create_connection", refuse)
    for name in ("routerbench", "sprout", "leaderboard-v2"):
        with pytest.raises(SourceUnavailable, match=r"unreachable.*--from PATH"):
            download(name, data_dir=tmp_path)
    assert not tmp_path.joinpath("routerbench").exists()


def test_probe_of_an_unresolvable_host_is_quick():
    with pytest.raises(SourceUnavailable, match="unreachable"):
        sources.check_host("host.invalid", 443, timeout=1.0)


def test_registry_and_options(tmp_path):
    assert sources.known_sources() == ["leaderboard-v2", "routerbench", "sprout", "synthetic"]
    with pytest.raises(DatasetError, match="known datasets: leaderboard-v2, routerbench"):
        download("nope", data_dir=tmp_path)
    with pytest.raises(DatasetError, match="does not take option"):
        download("synthetic", data_dir=tmp_path, splits="train")
    with pytest.raises(DatasetError, match="not a valid dataset name"):
        download("synthetic", data_dir=tmp_path, out="../escape", n=10)


def test_rerun_is_a_noop_and_force_rebuilds(tmp_path):
    t1, _, r1 = download("synthetic", data_dir=tmp_path, n=200, models=3, seed=1)
    mtime = (tmp_path / "synthetic" / "table.parquet").stat().st_mtime_ns
    t2, _, r2 = download("synthetic", data_dir=tmp_path, n=200, models=3, seed=1)
    assert (r1["reused"], r2["reused"], r2["same_request"]) == (False, True, True)
    assert t2.content_hash() == t1.content_hash()
    assert (tmp_path / "synthetic" / "table.parquet").stat().st_mtime_ns == mtime
    # other settings over a stored dataset: refused (never a silent reuse of stale data)
    with pytest.raises(DatasetError, match=r"already holds a dataset built with other settings "
                       r"\(options: stored .*'n': 200.*asked .*'n': 300.*--force.*--out"):
        download("synthetic", data_dir=tmp_path, n=300, models=3, seed=1)
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no such file"):
        download("routerbench", data_dir=tmp_path, from_path=tmp_path / "nowhere.csv")
    assert (tmp_path / "synthetic" / "table.parquet").stat().st_mtime_ns == mtime
    t4, _, r4 = download("synthetic", data_dir=tmp_path, n=300, models=3, seed=1, force=True)
    assert not r4["reused"] and t4.n == 300
    _, _, r5 = download("synthetic", data_dir=tmp_path, n=50, out="synthetic-small")
    assert Path(r5["path"]).name == "synthetic-small" and r5["n"] == 50


# --------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic():
    a = generate(n=500, models=4, seed=3)
    b = generate(n=500, models=4, seed=3)
    c = generate(n=500, models=4, seed=4)
    assert a.content_hash() == b.content_hash() != c.content_hash()


@pytest.fixture(scope="module")
def synth():
    return generate(n=6000, models=11, seed=0)


def test_synthetic_looks_like_routerbench(synth):
    perf, cost = synth.mean_perf(), synth.mean_cost()
    assert synth.m == 11 and len(set(synth.tasks)) == 8
    assert perf.max() - perf.min() > 0.4  # gpt-4 ~0.78 vs code-llama ~0.2
    assert cost.max() / cost.min() > 30  # about two orders of magnitude
    targets = {p["name"]: p["target_perf"] for p in source_config("synthetic")["models"]}
    np.testing.assert_allclose(perf, [targets[m] for m in synth.models], atol=0.03)
    oracle = synth.perf.max(axis=1).mean()
    assert oracle > perf.max() + 0.1
    assert (synth.perf.max(axis=1) == 0).mean() > 0.03  # some queries no LLM solves
    assert len(set(synth.prompts)) > 0.99 * synth.n
    prices = synth.card["prices_per_1m_tokens"]
    assert set(prices) == set(synth.models)


def test_synthetic_costs_follow_tokens(synth):
    # Code and math answers are long: their cost on an output-priced LLM is higher.
    i = synth.models.index("gpt-4-1106-preview")
    by_task = pd.Series(synth.cost[:, i]).groupby(synth.tasks).mean()
    assert by_task["mbpp"] > 2 * by_task["winogrande"]
    assert by_task["gsm8k"] > 2 * by_task["hellaswag"]


def test_synthetic_tasks_are_separable_by_prompt_text(synth):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, test = np.arange(0, 4000), np.arange(4000, synth.n)
    vec = TfidfVectorizer(min_df=2)
    x = vec.fit_transform(synth.prompts.astype(str))
    clf = LogisticRegression(max_iter=500).fit(x[train], synth.tasks[train])
    acc = (clf.predict(x[test]) == synth.tasks[test]).mean()
    assert acc > 0.9


def test_synthetic_extra_profiles_and_limits():
    t = generate(n=100, models=13, seed=0)
    assert t.models[-2:] == ("synthetic-llm-12", "synthetic-llm-13")
    assert generate(n=100, models=13, seed=0).content_hash() == t.content_hash()
    with pytest.raises(DatasetError, match="^models: "):
        generate(n=10, models=0)
    with pytest.raises(DatasetError, match="^n: "):
        generate(n=0)
