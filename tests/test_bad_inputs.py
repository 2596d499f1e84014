"""The catalogue of bad inputs, bad options and damaged state (issue "Trust").

Every case runs one CLI command against a small prepared world (a dataset with its index and a
finished run, or an empty data folder) and asserts three things: the exit code, that the one-line
message names what is wrong (and, where it matters, the fix), and that nothing was written,
changed or deleted under the data and results folders. No case may print a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from routebench import io
from routebench.cli import app

runner = CliRunner()

DATASET = "tiny"
OTHER = "other"
TEST_SIZE = "100"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WIDE = FIXTURES / "routerbench_wide.csv"


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


# --------------------------------------------------------------------------- the world
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/ with two small synthetic datasets (tiny: 400 x 4 LLMs, other: another seed) and
    their tfidf + hnsw indexes at test size 100, and results/ with one finished run of tiny."""
    root = tmp_path_factory.mktemp("world")
    env = {"ROUTEBENCH_DATA": str(root / "data"), "ROUTEBENCH_RESULTS": str(root / "results")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for name, seed in ((DATASET, "0"), (OTHER, "1")):
            code, out = _cli("download", "synthetic", "--n", "400", "--models", "4", "--seed",
                             seed, "--out", name)
            assert code == 0, out
            code, out = _cli("build-index", name, "--test-size", TEST_SIZE)
            assert code == 0, out
        code, out = _cli("simulate", DATASET, "--test-size", TEST_SIZE, "--seeds", "0",
                         "--routers", "random,greedy-cost", "--quiet")
        assert code == 0, out
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return root


@dataclass
class Place:
    """One test's copy of the world: its data and results folders (exported for the CLI)."""

    root: Path
    data: Path = field(init=False)
    results: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.root / "data"
        self.results = self.root / "results"

    def files(self, folder: str, pattern: str) -> list[Path]:
        return sorted((self.data / folder).glob(pattern))

    @property
    def run_dir(self) -> Path:
        (run,) = [p for p in self.results.iterdir() if (p / "manifest.json").is_file()]
        return run


def _snapshot(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` with the SHA-256 of its bytes (folders as markers)."""
    out: dict[str, str] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for p in sorted(folder.rglob("*")):
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def place(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
    shutil.copytree(world, tmp_path / "w")
    p = Place(tmp_path / "w")
    monkeypatch.setenv("ROUTEBENCH_DATA", str(p.data))
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(p.results))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return p


def refused(place: Place, args: list[str], *needles: str, code: int = 1) -> str:
    """Run ``args``; assert the exit code, every needle in the message, no traceback, and that
    nothing changed under the data and results folders (nor a ./data or ./results appeared)."""
    before = _snapshot(place.data, place.results)
    cwd = Path.cwd()
    exit_code, out = _cli(*args)
    assert exit_code == code, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in {out!r}"
    assert "Traceback" not in out
    assert _snapshot(place.data, place.results) == before, "the command changed stored files"
    assert not (cwd / "results").exists() and not (cwd / "data").exists()
    return out


# --------------------------------------------------------------------------- input files
def _wide() -> pd.DataFrame:
    return pd.read_csv(WIDE)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


class _Payload:
    """Unpickling this runs code: it creates the file named in ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: D105
        return (Path.touch, (Path(self.marker),))


WIDE_CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], tuple[str, ...]]] = {
    "cost column missing": (
        lambda w: w.drop(columns=["mistralai/mistral-7b-chat|total_cost"]),
        ("cost column is missing for model 'mistralai/mistral-7b-chat'",),
    ),
    "bare score column without cost": (
        lambda w: w.assign(**{"claude-v2": 1.0}),
        ("cost column is missing for model 'claude-v2'",),
    ),
    "score column missing": (
        lambda w: w.drop(columns=["gpt-4-1106-preview"]),
        ("score column is missing for model 'gpt-4-1106-preview'",),
    ),
    "NaN id": (
        lambda w: w.assign(sample_id=[None, *w["sample_id"][1:]]),
        ("column 'sample_id', row 0", "missing id"),
    ),
    "score above 1": (
        lambda w: w.assign(**{"gpt-4-1106-preview": [1.5, *w["gpt-4-1106-preview"][1:]]}),
        ("perf::gpt-4-1106-preview", "row 0", "1.5", "outside [0, 1]"),
    ),
    "negative cost": (
        lambda w: w.assign(**{"gpt-4-1106-preview|total_cost": -1.0}),
        ("cost::gpt-4-1106-preview", "-1.0", "finite number >= 0"),
    ),
    "infinite cost": (
        lambda w: w.assign(**{"gpt-4-1106-preview|total_cost": np.inf}),
        ("cost::gpt-4-1106-preview", "inf"),
    ),
    "missing cost value": (
        lambda w: w.assign(**{"gpt-4-1106-preview|total_cost": [np.nan, *w[
            "gpt-4-1106-preview|total_cost"][1:]]}),
        ("missing value", "--drop-missing"),
    ),
    "text score": (
        lambda w: w.assign(**{"gpt-4-1106-preview": ["abc", *w["gpt-4-1106-preview"][1:]]}),
        ("'abc' is not a number", "perf::gpt-4-1106-preview"),
    ),
    "duplicated id": (
        lambda w: w.assign(sample_id=[w["sample_id"][0], *w["sample_id"][:-1]]),
        ("duplicated id",),
    ),
    "empty prompt": (
        lambda w: w.assign(prompt=["   ", *w["prompt"][1:]]),
        ("empty prompt", "row 0"),
    ),
    "no sample_id column": (
        lambda w: w.drop(columns=["sample_id"]),
        ("'sample_id'", "required column is missing"),
    ),
    "no eval_name column": (
        lambda w: w.drop(columns=["eval_name"]),
        ("'eval_name'", "required column is missing"),
    ),
    "zero models": (
        lambda w: w[["sample_id", "prompt", "eval_name"]],
        ("zero models",),
    ),
}


@pytest.mark.parametrize("case", list(WIDE_CASES))
def test_bad_routerbench_csv(place: Place, tmp_path: Path, case: str) -> None:
    change, needles = WIDE_CASES[case]
    path = _write_csv(change(_wide()), tmp_path / "bad.csv")
    refused(place, ["download", "routerbench", "--from", str(path), "--out", "rb"],
            str(path), *needles)


def test_crafted_pickle_is_never_unpickled(place: Place, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "crafted.pkl"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    refused(place, ["download", "routerbench", "--from", str(path), "--out", "rb"],
            "refusing to unpickle", "arbitrary code", "--allow-pickle", str(path))
    assert not marker.exists(), "the pickle's payload ran"


def test_a_pickled_table_needs_the_opt_in(place: Place, tmp_path: Path) -> None:
    path = tmp_path / "rb.pkl"
    _wide().to_pickle(path)
    refused(place, ["download", "routerbench", "--from", str(path), "--out", "rb"],
            "refusing to unpickle", "not a known RouterBench release")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x80\x04\x95garbage", "cannot unpickle"),
        (b"", "cannot unpickle"),
        (pickle.dumps(pd.DataFrame({"a": range(1000)}))[:200], "cannot unpickle"),
        (pickle.dumps([1, 2, 3]), "expected a table, found a list"),
    ],
    ids=["garbage", "empty", "truncated", "not-a-table"],
)
def test_corrupt_pickles_with_the_opt_in(place: Place, tmp_path: Path, content: bytes,
                                         needle: str) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    out = refused(place, ["download", "routerbench", "--from", str(path), "--out", "rb",
                          "--allow-pickle"], needle, str(path))
    assert "a pickle can run" in out or "runs any code" in out  # the printed warning


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda d: d / "absent.csv", ("absent.csv", "no such file or folder")),
        (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt",
         ("unsupported file type '.txt'",)),
        (lambda d: (d / "empty").mkdir() or d / "empty", ("holds no",)),
        (lambda d: (d / "bin.csv").write_bytes(b"\xff\xfe\x00\x81" * 64) and d / "bin.csv",
         ("bin.csv", "cannot read .csv file")),
        (lambda d: (d / "bad.parquet").write_bytes(b"PAR1 not really") and d / "bad.parquet",
         ("bad.parquet", "cannot read .parquet file")),
    ],
    ids=["missing-path", "wrong-type", "empty-folder", "binary-csv", "corrupt-parquet"],
)
def test_bad_import_paths(place: Place, tmp_path: Path, make, needles) -> None:
    path = make(tmp_path)
    refused(place, ["download", "routerbench", "--from", str(path), "--out", "rb"], *needles)


def test_folder_whose_files_disagree_on_models(place: Place, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    wide = _wide()
    _write_csv(wide, folder / "a.csv")
    _write_csv(wide.drop(columns=["mistralai/mistral-7b-chat",
                                  "mistralai/mistral-7b-chat|total_cost",
                                  "mistralai/mistral-7b-chat|model_response"]), folder / "b.csv")
    refused(place, ["download", "routerbench", "--from", str(folder), "--out", "rb"],
            "b.csv", "models differ", "mistralai/mistral-7b-chat")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["synthetic", "--n", "0"], ("--n:", "1..")),
        (["synthetic", "--n", "99999999999"], ("--n:", "50,000,000")),
        (["synthetic", "--models", "0"], ("--models:",)),
        (["synthetic", "--models", "500"], ("--models:", "64")),
        (["synthetic", "--models", "abc"], ("--models", "count of LLMs", "'abc'")),
        (["synthetic", "--seed", "-1"], ("--seed:", "-1")),
        (["synthetic", "--from", "x.csv"], ("generated, not imported",)),
        (["synthetic", "--out", "../escape"], ("--out", "not a valid dataset name")),
        (["synthetic", "--drop-missing", "--coalesce"], ("--drop-missing or --coalesce",)),
        (["sprout", "--allow-pickle"], ("does not take option(s) ['allow_pickle']",)),
        (["nope"], ("unknown dataset 'nope'",)),
    ],
)
def test_bad_download_options(place: Place, args: list[str], needles) -> None:
    refused(place, ["download", *args], *needles)


# --------------------------------------------------------------------------- damaged datasets
def _edit_card(place: Place, change: Callable[[dict], None]) -> None:
    path = place.data / DATASET / "card.json"
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


def _tamper_table(place: Place) -> None:
    path = place.data / DATASET / "table.parquet"
    frame = pd.read_parquet(path)
    col = [c for c in frame.columns if c.startswith("cost::")][0]
    frame.loc[0, col] = frame.loc[0, col] * 2 + 1e-6
    frame.to_parquet(path, index=False)


def _foreign_index(place: Place) -> None:
    (mine,) = place.files(f"{DATASET}/indexes", "hnsw-*.faiss")
    (theirs,) = place.files(f"{OTHER}/indexes", "hnsw-*.faiss")
    assert mine.name == theirs.name  # same build identity, another dataset's vectors
    shutil.copyfile(theirs, mine)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _flip_byte(path: Path, at: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_descriptor_key(place: Place, pattern: str, key: str) -> None:
    (json_path,) = place.files(DATASET, pattern)
    descriptor = json.loads(json_path.read_text())
    descriptor.pop(key)
    json_path.write_text(json.dumps(descriptor))


DAMAGE: dict[str, tuple[Callable[[Place], None], tuple[str, ...]]] = {
    "table edited": (_tamper_table, ("table.parquet", "content hash", "--force")),
    "card deleted": (lambda p: (p.data / DATASET / "card.json").unlink(),
                     ("card.json", "card is missing", "cannot be verified")),
    "card hash removed": (lambda p: _edit_card(p, lambda c: c.pop("content_hash")),
                          ("card.json", "no valid content_hash")),
    "card hash edited": (lambda p: _edit_card(p, lambda c: c.update(content_hash="0" * 16)),
                         ("content hash", "does not match")),
    "card models edited": (lambda p: _edit_card(p, lambda c: c["models"].reverse()),
                           ("table.parquet",)),
    "card not JSON": (lambda p: (p.data / DATASET / "card.json").write_text("{not json"),
                      ("card.json", "not valid JSON")),
    "table corrupt": (lambda p: _truncate(p.data / DATASET / "table.parquet"),
                      ("table.parquet", "cannot read Parquet")),
    "foreign index": (_foreign_index, (".faiss", "SHA-256", "differs", "--force")),
    "index truncated": (lambda p: _truncate(p.files(f"{DATASET}/indexes", "hnsw-*.faiss")[0]),
                        (".faiss", "SHA-256")),
    "index descriptor without hash": (
        lambda p: _drop_descriptor_key(p, "indexes/hnsw-*.json", "file"),
        ("records no SHA-256",)),
    "index descriptor edited": (
        lambda p: _edit_json(p.files(f"{DATASET}/indexes", "hnsw-*.json")[0],
                             lambda d: d["split"].update(seed=7)),
        ("split seed: stored 7 vs wanted 0",)),
    "embeddings edited": (lambda p: _flip_byte(p.files(f"{DATASET}/embeddings", "*.npy")[0]),
                          (".npy", "SHA-256", "differs")),
    "embeddings truncated": (lambda p: _truncate(p.files(f"{DATASET}/embeddings", "*.npy")[0]),
                             (".npy", "SHA-256")),
    "embeddings descriptor without hash": (
        lambda p: _drop_descriptor_key(p, "embeddings/*.json", "sha256"),
        ("records no SHA-256",)),
}


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_dataset_is_refused_by_simulate(place: Place, case: str) -> None:
    damage, needles = DAMAGE[case]
    damage(place)
    refused(place, ["simulate", DATASET, "--test-size", TEST_SIZE, "--seeds", "0", "--routers",
                    "port", "--quiet"], *needles)


@pytest.mark.parametrize("case", ["foreign index", "index truncated", "embeddings edited",
                                  "table edited"])
def test_damaged_dataset_is_refused_by_build_index(place: Place, case: str) -> None:
    damage, needles = DAMAGE[case]
    damage(place)
    refused(place, ["build-index", DATASET, "--test-size", TEST_SIZE], *needles)


def test_corrupt_index_bytes_behind_a_matching_hash(place: Place) -> None:
    """A file that is damaged *and* whose descriptor was updated to match still fails cleanly
    (FAISS's read error becomes one line)."""
    (faiss_path,) = place.files(f"{DATASET}/indexes", "hnsw-*.faiss")
    _truncate(faiss_path, 0.3)
    _edit_json(faiss_path.with_suffix(".json"),
               lambda d: d["file"].update(sha256=io.file_sha256(faiss_path)))
    refused(place, ["simulate", DATASET, "--test-size", TEST_SIZE, "--seeds", "0", "--routers",
                    "port", "--quiet"], "cannot read the index", "--force")


@pytest.mark.parametrize(
    ("damage", "needles"),
    [
        (lambda p: _edit_card(p, lambda c: c["mean_perf"].update(
            {next(iter(c["mean_perf"])): 0.99})), ("field 'mean_perf'", "the table gives")),
        (lambda p: _edit_card(p, lambda c: c.update(n_queries=5)), ("field 'n_queries'",)),
        (lambda p: _edit_card(p, lambda c: c["tasks"].clear()), ("field 'tasks'",)),
        (lambda p: (p.data / DATASET / "card.json").unlink(), ("card is missing",)),
    ],
    ids=["mean-perf", "n-queries", "tasks", "no-card"],
)
def test_info_validates_the_card(place: Place, damage, needles) -> None:
    damage(place)
    refused(place, ["info", DATASET], *needles)


def test_a_copied_card_cannot_redirect_to_another_dataset(place: Place) -> None:
    """The dataset's name is its folder's name: a card naming another dataset changes nothing
    (embeddings and indexes stay in the dataset's own folder)."""
    _edit_card(place, lambda c: c.update(name=OTHER))
    other_before = _snapshot(place.data / OTHER)
    code, out = _cli("simulate", DATASET, "--test-size", TEST_SIZE, "--seeds", "0", "--routers",
                     "port", "--quiet")
    assert code == 0, out
    assert _snapshot(place.data / OTHER) == other_before
    code, out = _cli("info", DATASET)
    assert code == 0 and f"dataset {DATASET}" in out


# --------------------------------------------------------------------------- simulate options
SIM = ["simulate", DATASET, "--test-size", TEST_SIZE, "--seeds", "0", "--quiet"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--budget", "0"], ("--budget: must be > 0",)),
        (["--budget", "-1"], ("--budget: must be > 0",)),
        (["--budget", "inf"], ("--budget: expected a finite number",)),
        (["--budget", "nan"], ("--budget:",)),
        (["--eps", "0"], ("--eps: must lie in (0, 1)",)),
        (["--eps", "1"], ("--eps: must lie in (0, 1)",)),
        (["--alpha", "0"], ("--alpha: must be a finite number > 0",)),
        (["--top-k", "0"], ("--top-k: must be at least 1",)),
        (["--top-k", "5000"], ("--top-k: 5000 exceeds the 300 historical queries",)),
        (["--test-size", "0"], ("--test-size: must be at least 1",)),
        (["--test-size", "400"], ("--test-size: 400 is too large",)),
        (["--test-size", "99999999999999999999"], ("--test-size:", "too large")),
        (["--seeds", "99999999999999999999"], ("--seeds: must lie in 0..",)),
        (["--seeds", "3-1"], ("--seeds:", "empty")),
        (["--seeds", "a"], ("--seeds:", "expected e.g.")),
        (["--seeds", "1,1"], ("--seeds:", "repeats a seed")),
        (["--seeds", "0-99999999"], ("--seeds:", "too large")),
        (["--split-seed=-1"], ("--split-seed: must lie in 0..",)),
        (["--extreme-k", "99"], ("--extreme-k: applies to split 'extreme' only",)),
        (["--split", "extreme", "--extreme-k", "9"], ("--extreme-k: must lie in 1..5",)),
        (["--split", "extreme", "--extreme-k", "4"],
         ("--extreme-k: 4 must be smaller than the number of deployed LLMs (4)",)),
        (["--routers", "nope"], ("--routers: unknown router 'nope'; built-in:",)),
        (["--routers", "nowhere.mod:Router"], ("--routers: router 'nowhere.mod:Router': "
                                               "cannot import it",)),
        (["--router-param", "port.eps=2"], ("--eps: must lie in (0, 1)",)),
        (["--router-param", "port.epsilon=0.1"], ("--router-param port.epsilon: unknown "
                                                  "parameter; known: eps, alpha",)),
        (["--router-param", "random.x=1", "--routers", "random"],
         ("--router-param random.x: unknown parameter; known: none",)),
        (["--router-param", "eps=0.1"], ("--router-param: 'eps=0.1': expected ROUTER.PARAM",)),
        (["--eps", "0.1", "--routers", "random"],
         ("--router-params: parameters given for router 'port', which is not in routers",)),
        (["--routers", "port,port"], ("--routers: repeats a router",)),
        (["--routers", ","], ("--routers: is empty",)),
        (["--models", "gpt-5"], ("--models: unknown LLM(s) ['gpt-5']",)),
        (["--models", "mistral-7b-chat,mistral-7b-chat"], ("--models: repeats an LLM",)),
        (["--batch-size", "0"], ("--batch-size: must be an integer >= 1",)),
        (["--milp-limit", "-1"], ("--milp-limit: must be >= 0",)),
        (["--milp-node-limit", "0"], ("--milp-node-limit",)),
        (["--embedder", "word2vec"], ("--embedder: unknown embedder 'word2vec'",)),
        (["--nlist", "8"], ("--nlist applies to --index ivf, not --index hnsw",)),
        (["--dim", "0"], ("--dim: must be an integer >= 1",)),
        (["--hnsw-m", "100000"], ("--hnsw-m: must be at most 1,024",)),
        (["--index", "ivf", "--nlist", "100000"], ("--nlist: 100000 exceeds the 300",)),
    ],
)
def test_bad_simulate_options(place: Place, args: list[str], needles) -> None:
    refused(place, [*SIM, *args], *needles)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--split", "fair"], ("--split", "'fair' is not one of", "'weighted'")),
        (["--gamma-solver", "foo"], ("--gamma-solver", "'foo' is not one of", "'lp'")),
        (["--index", "annoy"], ("--index", "'annoy' is not one of", "'ivf'")),
    ],
)
def test_choices_are_refused_by_the_parser(place: Place, args: list[str], needles) -> None:
    """Options with a fixed set of values are choices: the parser refuses others (a usage
    error, exit code 2) listing the valid ones."""
    refused(place, [*SIM, *args], *needles, code=2)
    if args[0] == "--index":
        refused(place, ["build-index", DATASET, "--test-size", TEST_SIZE, *args], *needles,
                code=2)


@pytest.mark.parametrize(
    ("name", "needles"),
    [("../tiny", ("not a valid dataset name",)),
     ("absent", ("absent", "routebench download absent"))],
)
def test_bad_dataset_names(place: Place, name: str, needles) -> None:
    refused(place, ["simulate", name, "--test-size", TEST_SIZE, "--quiet"], *needles)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--top-k", "5000"], ("--top-k: 5000 exceeds the 300 historical queries",)),
        (["--top-k", "0"], ("--top-k: must be at least 1",)),
        (["--seed", "-1"], ("--seed: must be an integer in 0..",)),
        (["--test-size", "0"], ("--test-size: must be an integer >= 1",)),
        (["--hnsw-m", "100000"], ("--hnsw-m: must be at most 1,024",)),
        (["--ef-search", "0"], ("--ef-search: must be an integer >= 1",)),
        (["--nlist", "8"], ("--nlist applies to --index ivf",)),
        (["--index", "ivf", "--nlist", "100000"], ("--nlist: 100000 exceeds the 300",)),
        (["--dim", "0"], ("--dim: must be an integer >= 1",)),
    ],
)
def test_bad_build_index_options(place: Place, args: list[str], needles) -> None:
    refused(place, ["build-index", DATASET, "--test-size", TEST_SIZE, *args], *needles)


# --------------------------------------------------------------------------- environment
def test_results_folder_that_is_a_file(place: Place, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(blocker))
    refused(place, SIM, "results folder ($ROUTEBENCH_RESULTS)", "is a file, not a folder")
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(blocker / "below"))
    refused(place, SIM, "is a file, so the folder cannot be created")


def test_data_folder_that_is_a_file_writes_nothing_anywhere(
        place: Place, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ROUTEBENCH_DATA", str(blocker))
    monkeypatch.delenv("ROUTEBENCH_RESULTS")
    refused(place, SIM, "data folder ($ROUTEBENCH_DATA)", "is a file, not a folder")
    refused(place, ["download", "synthetic", "--n", "100"], "is a file, not a folder")
    refused(place, ["info", DATASET], "is a file, not a folder")


def test_unwritable_results_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite may run as root, for whom no folder is read-only: deny the access check.
    real_access = os.access
    results = str(place.results)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == results
                        else real_access(p, mode, **kw))
    refused(place, SIM, "no permission to write", results)


def test_permission_denied_while_writing(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    import routebench.io as rio

    def deny(path, writer):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(rio, "write_with", deny)
    out = refused(place, [*SIM, "--routers", "random", "--force"], "Permission denied",
                  "fix the permissions or choose another folder")
    assert "error:" in out


def test_unexpected_error_is_one_line_with_a_saved_traceback(
        place: Place, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import routebench.simulate as sim

    def boom(prep, seed):
        raise RuntimeError("boom in the router")

    monkeypatch.setattr(sim, "run_seed", boom)
    out = refused(place, [*SIM, "--routers", "random", "--budget", "0.5"],
                  "unexpected RuntimeError: boom in the router", "full traceback in")
    saved = out.split("full traceback in ")[1].split(" ")[0]
    assert Path(saved).is_file() and "boom in the router" in Path(saved).read_text()
    assert str(tmp_path / "cache") in saved


def test_numba_cache_goes_to_a_writable_folder(tmp_path: Path) -> None:
    """A user who cannot write the package folder (nor a NUMBA_CACHE_DIR they set) still gets
    compiled kernels: the cache moves to the per-user cache folder."""
    env = {**os.environ, "NUMBA_CACHE_DIR": "/dev/null/not-a-folder",
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = ("import numpy as np, numba, routebench.engine as e; "
            "print(numba.config.CACHE_DIR); "
            "print(e.serve_or_drop(np.array([0, 0]), np.ones((2, 1)), np.array([1.0])).tolist())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == str(tmp_path / "cache" / "routebench" / "numba")
    assert out[1] == "[True, False]"
    assert any((tmp_path / "cache" / "routebench" / "numba").rglob("*.nbi"))


# --------------------------------------------------------------------------- results folders
def _edit_manifest(place: Place, change: Callable[[dict], None]) -> None:
    _edit_json(place.run_dir / "manifest.json", change)


@pytest.mark.parametrize(
    ("damage", "needles"),
    [
        (lambda p: _edit_manifest(p, lambda m: m["config"].update(budget="xabc")),
         ("manifest.json", "config key 'budget'", "expected a number")),
        (lambda p: _edit_manifest(p, lambda m: m["config"].pop("test_size")),
         ("config key 'test_size'", "is missing")),
        (lambda p: _edit_manifest(p, lambda m: m["config"].update(split="fair")),
         ("config key 'split'", "unknown split")),
        (lambda p: _edit_manifest(p, lambda m: m.update(n_test=None, models="abc")),
         ("'models' must be a list",)),
        (lambda p: _edit_manifest(p, lambda m: m.update(total_budget_usd="lots")),
         ("'total_budget_usd'",)),
        (lambda p: (p.run_dir / "manifest.json").write_text("[1, 2"),
         ("manifest.json", "not valid JSON")),
        (lambda p: _truncate(p.run_dir / "results.parquet"),
         ("results.parquet", "cannot read Parquet")),
        (lambda p: pd.DataFrame({"router": ["x"]}).to_parquet(p.run_dir / "results.parquet"),
         ("results.parquet", "missing")),
    ],
    ids=["budget-text", "no-test-size", "bad-split", "models-text", "budget-usd", "json",
         "parquet", "columns"],
)
def test_damaged_results_are_refused_by_report_and_plot(place: Place, tmp_path: Path, damage,
                                                         needles) -> None:
    damage(place)
    refused(place, ["report", str(place.results), "--out", str(tmp_path / "rep")], *needles)
    refused(place, ["plot", str(place.results), "--out", str(tmp_path / "fig")], *needles)
    assert not (tmp_path / "rep").exists() and not (tmp_path / "fig").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["report", "nowhere"], ("nowhere", "no such file or folder")),
        (["report", "{data}"], ("holds no finished run folder",)),
        (["report", "{results}", "--format", "md,pdf"], ("--format 'md,pdf'",)),
        (["plot", "nowhere"], ("no such file or folder",)),
        (["sweep", "nowhere.yaml"], ("nowhere.yaml",)),
    ],
)
def test_bad_report_plot_sweep_arguments(place: Place, args: list[str], needles) -> None:
    args = [a.format(data=place.data, results=place.results) for a in args]
    refused(place, args, *needles)


def test_refused_runs_leave_no_run_folder(place: Place) -> None:
    """A refusal that needs the dataset (after the options parsed) leaves no folder behind."""
    shutil.rmtree(place.results)
    place.results.mkdir()
    refused(place, [*SIM, "--models", "gpt-5"], "--models")
    refused(place, [*SIM, "--top-k", "1000"], "--top-k")
    assert list(place.results.iterdir()) == []


# --------------------------------------------------------------------------- sweep files
SWEEP_CASES: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
    "duplicate key": ("base:\n  test_size: 100\n  test_size: 50\n", [],
                      ("test_size", "line 3", "line 4")),
    "non-integer top_k": ("base:\n  test_size: 100\ngrid:\n  top_k: [2, 2.5]\n", [],
                          ("line 5", "top_k", "2.5", "expected an integer")),
    "boolean budget": ("base:\n  test_size: 100\ngrid:\n  budget: [true]\n", [],
                       ("line 5", "budget", "expected a number")),
    "text test size": ("base:\n  test_size: lots\n", [],
                       ("line 3", "test_size", "expected an integer")),
    "text in a case": ("base:\n  test_size: 100\ncases:\n  - {split: extreme, extreme_k: x}\n",
                       [], ("extreme_k", "expected an integer")),
    "--set text": ("base:\n  test_size: 100\n", ["--set", "test_size=abc"],
                   ("--set test_size", "expected an integer")),
    "--set unknown key": ("base:\n  test_size: 100\n", ["--set", "budgett=1"],
                          ("budgett",)),
    "unknown parameter": ("base:\n  test_size: 100\n  budgett: 1\n", [],
                          ("line 4", "unknown parameter 'budgett'")),
    "not YAML": ("base: [unclosed\n", [], ("malformed YAML",)),
}


@pytest.mark.parametrize("case", list(SWEEP_CASES))
def test_bad_sweep_files(place: Place, tmp_path: Path, case: str) -> None:
    text, extra, needles = SWEEP_CASES[case]
    path = tmp_path / "grid.yaml"
    path.write_text(f"dataset: {DATASET}\n" + text)
    out = refused(place, ["sweep", str(path), *extra, "--no-report"], *needles)
    assert "Traceback" not in out


def test_hub_files_are_pinned_and_hash_checked_before_unpickling(
        place: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the hub returns is unpickled only if its SHA-256 is the pinned one: a changed
    file (here: a pickle with a payload) is refused before pickle.load sees it."""
    import huggingface_hub

    import routebench.sources.routerbench as rb

    marker = tmp_path / "pwned"
    served = tmp_path / "routerbench_0shot.pkl"
    served.write_bytes(pickle.dumps(_Payload(str(marker))))
    asked: dict = {}

    def fake_download(**kwargs):
        asked.update(kwargs)
        return str(served)

    monkeypatch.setattr(rb, "prepare_hub", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    refused(place, ["download", "routerbench"], "differs from the pinned",
            "refusing to unpickle")
    assert not marker.exists()
    pinned = rb.source_config("routerbench")
    assert asked["revision"] == pinned["revision"] and len(pinned["revision"]) == 40
    assert asked["filename"] == pinned["files"]["zero_shot"]["name"]
