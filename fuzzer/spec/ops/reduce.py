"""Reductions over axes."""

from __future__ import annotations

import torch

from fuzzer.spec.families import Reduce
from fuzzer.spec.registry import register


@register
class ReduceSum(Reduce):
    op_type = "ReduceSum"
    fn = staticmethod(lambda x, dims, keep: torch.sum(x, dim=dims, keepdim=keep, dtype=x.dtype))
