"""What a search returns: the values found, whether they are clean, and what is still wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Violation:
    """A node whose values are NaN/Inf, at risk of overflow, or on a knife edge.

    `op` is the node's spec name, `tensor` the graph tensor whose values are at fault (usually an
    input of the node), `count` the number of offending elements.
    """

    op: str
    tensor: str
    reason: str
    count: int

    def __str__(self) -> str:
        return f"{self.op}({self.tensor}): {self.reason} x{self.count}"


@dataclass
class SearchResult:
    """The outcome of `search` for one (graph, seed).

    `inputs` holds every graph input and `weights` every initializer (a drop-in replacement for
    `graph.values`), as NumPy arrays in the graph's dtypes. `success` means the final check, which
    runs the real implementations in the real dtypes, found no violation; otherwise `violations`
    lists what remained for the best values found. `steps` counts moves (optimiser steps and
    redraws of leaf elements), `redraws` the redraws among them. `infeasible` names the nodes that
    interval analysis proved violated for any values (fuzzer.graph.feasibility): the graph has no clean
    values, and the search did not try to fix those nodes. `outputs` are the graph's outputs on the
    values found, as fuzzer.graph.torch_run computes them (the final check ran those very
    implementations on them, see check.confirms), or None where it did not.
    """

    seed: int
    success: bool
    inputs: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    steps: int
    seconds: float
    violations: list[Violation] = field(default_factory=list)
    redraws: int = 0
    infeasible: list[str] = field(default_factory=list)
    outputs: dict[str, np.ndarray] | None = None
