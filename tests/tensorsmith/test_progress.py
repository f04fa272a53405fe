"""The live display: a row per backend, and per converter-path target (regression: path mode showed none)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from rich.console import Console

from fuzzer.generate.config import GenConfig
from fuzzer.spec.dtypes import DType
from tensorsmith.campaign import Campaign, CampaignConfig
from tensorsmith.progress import render

GEN = GenConfig(max_nodes=3, ops=("Relu", "Add"), dtypes=frozenset({DType.float32}))


def text(campaign: Campaign) -> str:
    console = Console(record=True, width=200)
    console.print(render(campaign, time.monotonic() - 1, 0))
    return console.export_text()


def test_rows_for_backends_and_for_targets_known_only_by_their_verdicts(tmp_path: Path) -> None:
    c = Campaign(CampaignConfig(backends=("onnxruntime",), out=tmp_path, tests=2, gen=GEN))
    c.run()
    shown = text(c)
    assert "onnxruntime" in shown and "2 tests" in shown
    # a converter path's targets ("EXPORTER/BACKEND") have no worker of the campaign's own
    c.stats.per_backend["dynamo/onnxruntime"] = Counter(ok=1, wrong_result=1)
    assert "dynamo/onnxruntime" in text(c)
    assert "wrong_result 1" in text(c)
    assert c.stats.seconds > 0  # regression: the campaign never recorded its running time
