"""Broadcasting binary arithmetic: Add, Sub, Mul, Div, ..."""

from __future__ import annotations

import torch

from fuzzer.spec.families import Binary
from fuzzer.spec.registry import register


@register
class Add(Binary):
    op_type = "Add"
    fn = staticmethod(torch.add)
