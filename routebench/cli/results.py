"""`routebench plot`, `report` and `sweep`."""

from routebench.cli.common import app, not_built


@app.command("plot")
def plot() -> None:
    """Write the paper's figures (not built yet)."""
    not_built("plot")
