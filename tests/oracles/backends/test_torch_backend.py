"""torch.compile really compiles every model (in-process, to look at Dynamo's counters)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.oracles.backends.test_backends import SIMPLE, case

BACKENDS_DIR = Path(__file__).resolve().parents[3] / "oracles" / "backends"


@pytest.mark.slow
def test_every_model_is_compiled_not_run_eagerly(monkeypatch) -> None:
    """Regression guard: past Dynamo's recompile limit (8) a model silently ran eagerly without the reset."""
    monkeypatch.syspath_prepend(str(BACKENDS_DIR))  # backend modules import their siblings as the worker does
    import torch_backend
    from torch._dynamo.utils import counters

    for seed in range(10):
        graph, model, feeds = case(SIMPLE, seed)
        counters.clear()
        handle = torch_backend.prepare(model.SerializeToString(), {"compile": True}, [pickle.dumps(graph)])
        torch_backend.run(handle, feeds)
        assert counters["stats"]["unique_graphs"] >= 1, f"model {seed} was not compiled"
