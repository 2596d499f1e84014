"""`routebench simulate`."""

from routebench.cli.common import app, not_built


@app.command("simulate")
def simulate() -> None:
    """Replay query streams under budgets (not built yet)."""
    not_built("simulate")
