"""The tests of a check: a seeded size sweep of generated models, and the regression corpus on disk.

A corpus entry is a folder (a reduced finding, promoted by copying a check artifact folder):

    case.json     {"format", "name", "description", "origin", "expect": {TARGET: VERDICT or "ok"}}
    graph.json    the Graph as plain data (tensors, nodes with their spec names and attributes)
    weights.npz   initializer values;  inputs.npz   the graph inputs
    model.onnx    the ONNX model of the graph (for people and other tools; the check rebuilds it)

A VERDICT is {"kind", "stage", "output"}, the identity `Verdict.same_as` compares. bfloat16 arrays
are stored as float32 (exact) and narrowed back using the graph's dtypes. Rejected: pickling the
Graph, which would tie a user's committed corpus to tensorsmith's class layout and is unsafe to load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.model import Graph, Node, Tensor
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.search import search
from fuzzer.spec import registry
from fuzzer.spec.base import Domain, TType
from fuzzer.spec.dtypes import ALL, DType
from tensorsmith.findings import save_arrays

CORPUS_FORMAT = "tensorsmith-corpus/1"


class CorpusError(ValueError):
    """A corpus folder that cannot be read (exit 2: the message names the folder)."""


class SweepError(ValueError):
    """A sweep configuration that cannot work (exit 2: the message names the value and the choices)."""


@dataclass(frozen=True)
class Sweep:
    """The generated part of a check: `seeds` models per size in `sizes`, every op enabled by default.

    Model k (counting over sizes, then seeds) uses seed `seed + k`, so no two models share a seed.
    """

    sizes: tuple[int, ...] = (1, 3, 6, 10, 16, 24)
    seeds: int = 20
    seed: int = 0
    opset: int | None = None  # None: the path's default (21; 13 for onnx2torch, whose converters stop there)
    ops: tuple[str, ...] = ()
    exclude_ops: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()  # () = every dtype
    search_steps: int = 200

    def __post_init__(self) -> None:
        if not self.sizes or any(not (isinstance(n, int) and 1 <= n <= 500) for n in self.sizes):
            raise SweepError(f"sizes={self.sizes!r} is invalid; expected integers in [1, 500]")
        if not (isinstance(self.seeds, int) and self.seeds >= 0):
            raise SweepError(f"seeds={self.seeds!r} is invalid; expected an integer >= 0")

    def validate(self, path: str) -> None:
        """Raise SweepError naming a bad op, dtype or opset (the generator would reject it later)."""
        try:
            cfg = self.gen(self.sizes[0], path)
            registry.select(cfg.opset, ops=list(self.ops), exclude=list(self.exclude_ops))
        except ValueError as e:
            raise SweepError(str(e)) from None

    def gen(self, size: int, path: str) -> GenConfig:
        opset = self.opset or (13 if path == "onnx2torch" else GenConfig().opset)
        dtypes = frozenset(DType.parse(d) for d in self.dtypes) if self.dtypes else ALL
        return GenConfig(max_nodes=size, opset=opset, ops=self.ops, exclude_ops=self.exclude_ops, dtypes=dtypes)

    def to_json(self, path: str) -> dict:
        cfg = self.gen(self.sizes[0], path).to_json()
        return {
            "sizes": list(self.sizes),
            "seeds": self.seeds,
            "seed": self.seed,
            "search_steps": self.search_steps,
            "gen": {k: v for k, v in cfg.items() if k != "max_nodes"},
        }


@dataclass
class Case:
    """One test of a check. `graph` is None when no clean inputs were found (`skip` says why)."""

    id: str
    source: str  # "sweep" or the corpus folder
    graph: Graph | None = None
    inputs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)  # target -> verdict identity (corpus entries)
    skip: str = ""
    description: str = ""

    def fingerprint(self) -> str:
        """A short hash of the model and its inputs: tells whether a case id still names the same test."""
        if self.graph is None:
            return ""
        h = hashlib.sha1(to_onnx(_with_values(self.graph, self.weights)).SerializeToString())
        for k in sorted(self.inputs):
            h.update(k.encode() + np.ascontiguousarray(self.inputs[k]).tobytes())
        return h.hexdigest()[:12]


def _with_values(graph: Graph, weights: dict) -> Graph:
    return Graph(graph.opset, graph.tensors, graph.nodes, graph.outputs, dict(weights))


def sweep_ids(sweep: Sweep) -> list[tuple[str, int, int]]:
    """(case id, size, seed) of every sweep case, smallest models first."""
    out, k = [], 0
    for size in sweep.sizes:
        for _ in range(sweep.seeds):
            seed = sweep.seed + k
            out.append((f"n{size}-s{seed}", size, seed))
            k += 1
    return out


def sweep_case(sweep: Sweep, path: str, case_id: str, size: int, seed: int) -> Case:
    """Generate and search one sweep case (deterministic in (sweep, path, seed, tensorsmith version))."""
    graph, _ = generate(sweep.gen(size, path), seed)
    found = search(graph, seed, steps=sweep.search_steps)
    if not found.success:
        return Case(case_id, "sweep", skip=f"no clean inputs after {sweep.search_steps} search steps")
    return Case(case_id, "sweep", graph, dict(found.inputs), dict(found.weights))


# --- the corpus -------------------------------------------------------------------------
def corpus_cases(folders: list[Path]) -> Iterator[Case]:
    """Every entry (a folder holding case.json) under each corpus folder, in name order."""
    for root in folders:
        if not Path(root).is_dir():
            raise CorpusError(f"corpus folder {str(root)!r} does not exist")
        for entry in sorted(p.parent for p in Path(root).glob("*/case.json")):
            yield read_entry(entry)


def read_entry(folder: Path) -> Case:
    try:
        meta = json.loads((folder / "case.json").read_text())
        if meta.get("format") != CORPUS_FORMAT:
            raise CorpusError(f"{folder}/case.json: format {meta.get('format')!r}, expected {CORPUS_FORMAT!r}")
        graph = graph_from_json(json.loads((folder / "graph.json").read_text()))
        inputs = _load(folder / "inputs.npz", graph)
        weights = _load(folder / "weights.npz", graph)
    except (OSError, KeyError, ValueError) as e:
        if isinstance(e, CorpusError):
            raise
        raise CorpusError(f"corpus entry {str(folder)!r} is unreadable: {type(e).__name__}: {e}") from e
    name = meta.get("name") or folder.name
    return Case(
        f"corpus/{name}", str(folder), graph, inputs, weights, meta.get("expect", {}), "", meta.get("description", "")
    )


def write_entry(folder: Path, case: Case, *, expect: dict, description: str = "", origin: str = "") -> None:
    """Write `case` as a corpus entry (the check's artifacts use the same layout, so promoting is a copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": CORPUS_FORMAT,
        "name": folder.name,
        "description": description or case.description,
        "origin": origin,
        "expect": expect,
    }
    (folder / "case.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (folder / "graph.json").write_text(json.dumps(graph_to_json(case.graph), indent=1) + "\n")
    save_arrays(folder / "inputs.npz", case.inputs)
    save_arrays(folder / "weights.npz", case.weights)
    (folder / "model.onnx").write_bytes(to_onnx(_with_values(case.graph, case.weights)).SerializeToString())


def _load(path: Path, graph: Graph) -> dict:
    with np.load(path) as z:
        return {k: np.asarray(z[k]).astype(graph.tensors[k].ttype.dtype.numpy) for k in z.files}


# --- Graph <-> JSON ---------------------------------------------------------------------
def graph_to_json(graph: Graph) -> dict:
    """The graph's structure as JSON-able data (initializer values are stored separately)."""
    return {
        "opset": graph.opset,
        "tensors": [
            {
                "name": t.name,
                "dtype": t.ttype.dtype.name,
                "shape": [int(d) for d in t.ttype.shape],
                "role": t.role,
                "domain": [t.domain.lo, t.domain.hi, list(t.domain.specials)],
            }
            for t in graph.tensors.values()
        ],
        "nodes": [
            {"op": n.op, "inputs": n.inputs, "outputs": n.outputs, "attrs": {k: _encode(v) for k, v in n.attrs.items()}}
            for n in graph.nodes
        ],
        "outputs": list(graph.outputs),
    }


def graph_from_json(data: dict) -> Graph:
    graph = Graph(opset=int(data["opset"]), outputs=list(data["outputs"]))
    for t in data["tensors"]:
        lo, hi, specials = t["domain"]
        ttype = TType(DType[t["dtype"]], tuple(int(d) for d in t["shape"]))
        graph.tensors[t["name"]] = Tensor(t["name"], ttype, t["role"], Domain(lo, hi, tuple(specials)))
    graph.nodes = [
        Node(n["op"], list(n["inputs"]), list(n["outputs"]), {k: _decode(v) for k, v in n["attrs"].items()})
        for n in data["nodes"]
    ]
    return graph


def _encode(v):
    """JSON for an attribute value; tuples and arrays are tagged so that they come back as they were."""
    if isinstance(v, dict):
        return {"dict": {k: _encode(x) for k, x in v.items()}}
    if isinstance(v, tuple):
        return {"tuple": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, np.ndarray):
        return {"array": v.tolist(), "dtype": v.dtype.name}
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"attribute value {v!r} of type {type(v).__name__} has no JSON form")


def _decode(v):
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if "tuple" in v:
            return tuple(_decode(x) for x in v["tuple"])
        if "array" in v:
            return np.asarray(v["array"], dtype=v["dtype"])
        return {k: _decode(x) for k, x in v["dict"].items()}
    return v
