"""Descriptors of the embed -> index -> estimate chain: ``EmbedSpec``, ``IndexSpec`` and
``EstimateSpec`` (keys, validation), search parameters that never rebuild, recall stored per
(k, search parameters) beside the index, reads that never write, and the CLI options."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routebench import estimate as est
from routebench import index as ix
from routebench import io
from routebench.cli import app
from routebench.dataset import dataset_dir, save_table
from routebench.embed import EmbedParamError, EmbedSpec
from routebench.errors import ParamError
from routebench.estimate import EstimateSpec, open_index
from routebench.index import IndexSpec
from routebench.split import make_split

runner = CliRunner()
EMB = EmbedSpec("tfidf", {"dim": 16})


# --------------------------------------------------------------------------- keys
def test_keys_are_deterministic_and_follow_build_params_only():
    split = make_split(1000, 200, 0)
    hnsw = IndexSpec("hnsw")
    assert hnsw.key(EMB, split) == IndexSpec("hnsw", {"m": 32}).key(EmbedSpec("tfidf",
                                                                                {"dim": 16}), split)
    assert hnsw.key(EMB, split).startswith("hnsw-tfidf-")
    # a build parameter changes the key ...
    assert IndexSpec("hnsw", {"m": 16}).key(EMB, split) != hnsw.key(EMB, split)
    assert IndexSpec("hnsw", {"ef_construction": 40}).key(EMB, split) != hnsw.key(EMB, split)
    assert hnsw.key(EmbedSpec("tfidf", {"dim": 17}), split) != hnsw.key(EMB, split)
    assert hnsw.key(EMB, make_split(1000, 200, 1)) != hnsw.key(EMB, split)
    # ... a search parameter does not (it is applied after loading)
    fast = IndexSpec("hnsw", {"ef_search": 10})
    assert fast != hnsw and fast.key(EMB, split) == hnsw.key(EMB, split)
    ivf = IndexSpec("ivf", {"nlist": 8}).resolve(800, 16)
    assert ivf.with_search({"nprobe": 2}).key(EMB, split) == ivf.key(EMB, split)
    # the estimate key (of the recall measurement) holds k and the search parameters
    spec = EstimateSpec(EMB, hnsw)
    assert spec.key(split) == f"{hnsw.key(EMB, split)}.k5-ef_search50"
    assert replace(spec, top_k=3).key(split) != spec.key(split)
    assert replace(spec, index=fast).key(split) == f"{hnsw.key(EMB, split)}.k5-ef_search10"
    with pytest.raises(ix.IndexConfigError, match="resolve"):
        IndexSpec("ivf").key(EMB, split)  # nlist depends on the history


def test_specs_validate_on_construction_and_name_the_parameter():
    with pytest.raises(est.EstimateParamError, match="top_k: must be at least 1, got 0") as exc:
        EstimateSpec(top_k=0)
    assert exc.value.param == "top_k"
    with pytest.raises(ParamError, match="expected an integer"):
        EstimateSpec(top_k=2.5)  # type: ignore[arg-type]
    with pytest.raises(EmbedParamError) as e_exc:
        EstimateSpec.from_options("tfidf", {"dim": -1})
    assert e_exc.value.param == "dim"
    with pytest.raises(ix.IndexParamError) as i_exc:
        EstimateSpec.from_options(index="hnsw", index_params=(("ef_search", 0),))
    assert i_exc.value.param == "ef_search"
    assert EstimateSpec().top_k == est.DEFAULT_TOP_K == 5
    assert EstimateSpec.from_options() == EstimateSpec()
    assert EstimateSpec().exact().index == IndexSpec("flat")
    split = make_split(100, 97, 0)
    with pytest.raises(ParamError, match="5 exceeds the 3 historical queries"):
        EstimateSpec().check(split)


# --------------------------------------------------------------------------- stored artefacts
@pytest.fixture(scope="module")
def small():
    from routebench.sources.synthetic import generate

    table = generate(n=900, models=3, seed=4)
    return table, make_split(table.n, 200, 0)


def test_a_read_never_writes_the_descriptor_and_recall_is_stored_per_k(small, tmp_path,
                                                                         monkeypatch):
    table, split = small
    spec = EstimateSpec(EMB)
    built = open_index(table, split, spec, data_dir=tmp_path, progress=False)
    assert not built.reused
    json_path = built.path.with_suffix(".json")
    before = (json_path.read_bytes(), json_path.stat().st_mtime_ns)
    stored = io.read_json(json_path)
    assert "recall_at_k" not in stored["measured"] and "top_k" not in stored
    measured = built.path.parent / est.MEASURED_SUBDIR
    assert sorted(p.name for p in measured.iterdir()) == [f"{spec.key(split)}.json"]

    # another k: loaded, measured at that k and stored beside the index; the descriptor is
    # neither rewritten nor touched
    at3 = open_index(table, split, replace(spec, top_k=3), data_dir=tmp_path, progress=False)
    assert at3.reused and at3.descriptor["measured"]["k"] == 3 and at3.descriptor["top_k"] == 3
    assert (json_path.read_bytes(), json_path.stat().st_mtime_ns) == before
    records = {p.name: io.read_json(p) for p in measured.iterdir()}
    assert set(records) == {f"{spec.key(split)}.json", f"{replace(spec, top_k=3).key(split)}.json"}
    for record in records.values():
        assert record["index_sha256"] == stored["file"]["sha256"]
        assert record["measured"]["k"] == record["top_k"]
        assert record["search"] == {"ef_search": 50}
    assert records[f"{spec.key(split)}.json"]["measured"] == {
        k: v for k, v in built.descriptor["measured"].items()
        if k not in ("build_seconds", "memory_bytes")}

    # a stored measurement is read, not measured again (unless force)
    def boom(*args, **kwargs):
        raise AssertionError("the stored measurement should have been read")

    monkeypatch.setattr(est, "measure", boom)
    again = open_index(table, split, replace(spec, top_k=3), data_dir=tmp_path, progress=False)
    assert again.descriptor["measured"] == at3.descriptor["measured"]
    with pytest.raises(AssertionError, match="should have been read"):
        open_index(table, split, replace(spec, top_k=3), data_dir=tmp_path, progress=False,
                   force=True)
    # a search parameter is one more measurement of the same file
    fast = replace(spec, index=IndexSpec("hnsw", {"ef_search": 4}))
    with pytest.raises(AssertionError, match="should have been read"):
        open_index(table, split, fast, data_dir=tmp_path, progress=False)
    assert len(list(built.path.parent.glob("*.faiss"))) == 1


def test_a_measurement_of_another_file_is_not_used(small, tmp_path):
    table, split = small
    spec = EstimateSpec(EMB)
    built = open_index(table, split, spec, data_dir=tmp_path, progress=False)
    record_path = built.path.parent / est.MEASURED_SUBDIR / f"{spec.key(split)}.json"
    record = io.read_json(record_path)
    record["index_sha256"] = "0" * 64
    record["measured"]["recall_at_k"] = -1.0
    record_path.write_text(json.dumps(record))
    again = open_index(table, split, spec, data_dir=tmp_path, progress=False)
    assert again.descriptor["measured"]["recall_at_k"] > 0
    assert io.read_json(record_path)["index_sha256"] == built.descriptor["file"]["sha256"]


def test_ivf_nprobe_is_applied_after_loading(small, tmp_path):
    table, split = small
    base = EstimateSpec(EMB, IndexSpec("ivf", {"nlist": 8}))
    built = open_index(table, split, base, data_dir=tmp_path, progress=False)
    one = open_index(table, split, replace(base, index=IndexSpec("ivf", {"nlist": 8,
                                                                         "nprobe": 1})),
                     data_dir=tmp_path, progress=False)
    assert one.reused and one.path == built.path and one.index.nprobe == 1
    assert one.descriptor["index"]["search"] == {"nprobe": 1}
    assert built.descriptor["index"]["search"] == {"nprobe": 8}
    assert one.descriptor["measured"]["recall_at_k"] <= built.descriptor["measured"][
        "recall_at_k"]


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def toy(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from routebench.sources.synthetic import generate

    table = replace(generate(n=600, models=3, seed=2), name="toy")
    save_table(table, dataset_dir("toy", data_dir))
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(tmp_path / "results"))
    return data_dir


SIM = ["simulate", "toy", "--test-size", "100", "--seeds", "0", "--routers", "port",
       "--quiet", "--dim", "16"]


def _error_line(output: str) -> str:
    (line,) = [ln for ln in " ".join(output.split()).split("error: ")[1:]]
    return line


def test_simulate_uses_the_search_params_and_reuses_the_index_file(toy: Path, tmp_path: Path):
    built = runner.invoke(app, ["build-index", "toy", "--test-size", "100", "--dim", "16"])
    assert built.exit_code == 0, built.output
    indexes = toy / "toy" / "indexes"
    (faiss_file,) = indexes.glob("hnsw-*.faiss")
    descriptor = faiss_file.with_suffix(".json")
    before = (descriptor.read_bytes(), descriptor.stat().st_mtime_ns)
    result = runner.invoke(app, [*SIM, "--index", "hnsw", "--ef-search", "10"])
    assert result.exit_code == 0, result.output
    (manifest,) = (tmp_path / "results").glob("*/manifest.json")
    manifest = json.loads(manifest.read_text())
    assert manifest["index"]["index"]["search"] == {"ef_search": 10}
    assert manifest["index"]["index"]["params"] == {"m": 32, "ef_construction": 200}
    assert manifest["config"]["index_params"] == [["ef_search", 10]]
    assert manifest["config"]["embedder_params"] == [["dim", 16]]
    assert list(indexes.glob("*.faiss")) == [faiss_file]  # no second index file
    assert (descriptor.read_bytes(), descriptor.stat().st_mtime_ns) == before
    assert (indexes / "measured" / f"{faiss_file.stem}.k5-ef_search10.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nlist", "4"], "--nlist applies to --index ivf, not --index hnsw"),
        (["--index", "flat", "--ef-search", "4"], "--ef-search applies to --index hnsw"),
        (["--embedder", "minilm", "--dim", "8"], "--dim applies to --embedder tfidf"),
        (["--hnsw-m", "0"], "--hnsw-m: must be an integer >= 1"),
    ],
)
def test_simulate_refuses_options_of_another_index(toy: Path, tmp_path: Path, args, message):
    result = runner.invoke(app, [*SIM, *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    assert not (toy / "toy" / "indexes").exists()


@pytest.mark.parametrize("top_k", ["0", "5000"])
def test_bad_top_k_is_refused_alike_by_simulate_and_build_index(toy: Path, top_k: str):
    sim = runner.invoke(app, [*SIM, "--top-k", top_k])
    build = runner.invoke(app, ["build-index", "toy", "--test-size", "100", "--dim", "16",
                                "--top-k", top_k])
    assert sim.exit_code == build.exit_code == 1
    assert _error_line(sim.output) == _error_line(build.output)
    assert _error_line(sim.output).startswith("--top-k: ")
