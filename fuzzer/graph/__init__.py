"""The generated graph: tensors with concrete types, nodes in topological order, ONNX emission."""

from fuzzer.graph.model import Graph, Node, Tensor

__all__ = ["Graph", "Node", "Tensor"]
