"""Tests made ahead in producer processes: the same tests as made inline, and our crashes are data."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np

from fuzzer.generate.config import GenConfig
from fuzzer.spec.dtypes import DType
from tensorsmith import produce
from tensorsmith.campaign import Campaign, CampaignConfig
from tensorsmith.produce import Producer, make

GEN = GenConfig(max_nodes=4, ops=("Relu", "Add", "Mul", "Abs", "Sigmoid"), dtypes=frozenset({DType.float32}))
WIDE = GenConfig(max_nodes=6, dtypes=frozenset({DType.float32, DType.float16, DType.int64}))


def _same(a, b) -> None:
    assert (a.index, a.seed, a.success, a.model, a.op_types, a.error) == (
        b.index,
        b.seed,
        b.success,
        b.model,
        b.op_types,
        b.error,
    )
    assert a.feeds.keys() == b.feeds.keys()
    for n in a.feeds:
        np.testing.assert_array_equal(a.feeds[n], b.feeds[n])
    if a.success:
        for x, y in ((a.r32, b.r32), (a.r64, b.r64)):
            assert x.ok == y.ok
            for n in x.outputs or {}:
                np.testing.assert_array_equal(x.outputs[n], y.outputs[n])


def test_processes_make_the_same_tests_as_inline_in_order() -> None:
    p = Producer(WIDE, 7, 3, 20, jobs=2)
    try:
        made = [next(p) for _ in range(6)]
    finally:
        p.close()
    assert [m.index for m in made] == list(range(3, 9))
    for m in made:
        _same(m, make(WIDE, 7 + m.index, m.index, 20))
    assert any(m.success for m in made)


def test_campaign_results_do_not_depend_on_jobs(tmp_path: Path) -> None:
    runs = {}
    for jobs in (0, 2):
        out = tmp_path / f"j{jobs}"
        cfg = CampaignConfig(backends=("onnxruntime", "onnxruntime-injected"), out=out, tests=6, gen=GEN, jobs=jobs)
        c = Campaign(cfg)
        c.run()
        runs[jobs] = (sorted(p.name for p in (out / "findings").iterdir()), c.stats.findings, c.stats.per_backend)
    assert runs[0] == runs[2]
    assert runs[0][1] >= 1


def test_our_exception_is_logged_and_the_campaign_goes_on(tmp_path: Path, monkeypatch) -> None:
    real = produce._make

    def broken(gen, seed, index, steps):
        if index == 1:
            raise KeyError("a bug of ours")
        return real(gen, seed, index, steps)

    monkeypatch.setattr(produce, "_make", broken)
    c = Campaign(CampaignConfig(backends=("onnxruntime",), out=tmp_path, tests=3, gen=GEN))
    c.run()
    assert c.stats.tests == 3 and c.stats.internal_errors == 1
    records = [json.loads(line) for line in (tmp_path / "internal_errors.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == [1]
    assert "KeyError: 'a bug of ours'" in records[0]["error"]
    assert json.loads((tmp_path / "state.json").read_text())["stats"]["internal_errors"] == 1


def die_on_index_2(gen, seed, index, steps):
    """A producer that segfaults on test 2 (in a producer process, like a crash in torch would)."""
    if index == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    return make(gen, seed, index, steps)


def test_a_dying_producer_is_replaced_and_the_test_recorded_as_our_crash() -> None:
    p = Producer(GEN, 0, 0, 10, jobs=1, fn=die_on_index_2)
    try:
        made = [next(p) for _ in range(5)]
    finally:
        p.close()
    assert [m.index for m in made] == [0, 1, 2, 3, 4]
    assert "died" in made[2].error and made[2].graph is None
    assert all(not m.error and m.graph is not None for i, m in enumerate(made) if i != 2)
