"""A complete router with feedback, to copy: `routebench simulate synthetic --routers
port,examples/my_router.py:PacedGreedy --router-param paced-greedy.slack=1.5`."""

from dataclasses import dataclass

import numpy as np

from routebench.routers import OnlineRouter


@dataclass(frozen=True)
class Params:
    slack: float = 1.2  # how far ahead of its even pace (B_i t / N) an LLM may spend


class PacedGreedy(OnlineRouter):
    """The best estimated performance among the LLMs that are on pace and can pay the estimate;
    drop the query when none is."""

    name = "paced-greedy"
    label = "Paced greedy (example)"
    Params = Params

    def start(self, horizon, rng):
        super().start(horizon, rng)
        self.remaining = horizon.budgets.copy()

    def decide(self, start, perf_hat, cost_hat):
        b, n = self.horizon.budgets, self.horizon.n
        spent = b - self.remaining
        out = np.full(len(perf_hat), -1)
        for r in range(len(perf_hat)):
            ok = (spent + cost_hat[r] <= self.p.slack * b * (start + r + 1) / n) & (
                cost_hat[r] <= b - spent)
            if ok.any():
                out[r] = np.where(ok, perf_hat[r], -np.inf).argmax()
                spent = spent + np.eye(len(b))[out[r]] * cost_hat[r]
        return out

    def update(self, feedback):
        self.remaining = feedback.remaining.copy()
