"""The generator's configuration: one typed, validated object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from fuzzer.spec.dtypes import ALL, DType

DEFAULT_OPSET = 21


@dataclass(frozen=True)
class GenConfig:
    """Everything besides the seed that decides a generated model."""

    max_nodes: int = 10
    opset: int = DEFAULT_OPSET
    dtypes: frozenset[DType] = field(default=ALL)
    ops: tuple[str, ...] = ()
    exclude_ops: tuple[str, ...] = ()
    max_rank: int = 5
    max_dim: int = 64
    max_elems: int = 4096  # per tensor
    max_total_elems: int = 200_000  # all tensors of the model together
    forward_p: float = 0.65
    output_p: float = 0.08  # chance that a consumed intermediate is also a graph output
    solver_budget: int = 8  # Z3 checks per insertion attempt
    tries_per_node: int = 12  # insertion attempts before giving up on one more node

    def __post_init__(self) -> None:
        checks = {
            "max_nodes": (self.max_nodes, 1, 500),
            "opset": (self.opset, 13, 28),
            "max_rank": (self.max_rank, 1, 6),
            "max_dim": (self.max_dim, 1, 4096),
            "max_elems": (self.max_elems, 1, 1 << 24),
        }
        for name, (v, lo, hi) in checks.items():
            if not (isinstance(v, int) and lo <= v <= hi):
                raise ValueError(f"{name}={v!r} is out of range; expected an integer in [{lo}, {hi}]")
        if not self.dtypes:
            raise ValueError("dtypes is empty; expected at least one of: " + ", ".join(d.name for d in DType))

    def to_json(self) -> dict:
        d = asdict(self)
        d["dtypes"] = sorted(x.name for x in self.dtypes)
        d["ops"] = list(self.ops)
        d["exclude_ops"] = list(self.exclude_ops)
        return d
