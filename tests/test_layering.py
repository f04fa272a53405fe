"""The import layering of STYLE.md: who may import whom (checked on the source, not at run time)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package prefix -> module prefixes it must never import
FORBIDDEN = {
    "fuzzer.spec": ["fuzzer.generate", "fuzzer.graph", "fuzzer.search", "fuzzer.reduce", "oracles", "server"],
    "fuzzer.graph": ["fuzzer.generate", "fuzzer.search", "fuzzer.reduce", "oracles", "server"],
    "fuzzer.generate": ["fuzzer.search", "fuzzer.reduce", "oracles", "server"],
    "fuzzer": ["oracles", "server"],
    "oracles": ["fuzzer.generate", "server"],
    "server": ["fuzzer", "oracles", "torch", "z3", "onnxruntime", "tvm", "openvino"],
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_layering() -> None:
    bad = []
    for top in ("fuzzer", "oracles", "server"):
        for path in (ROOT / top).rglob("*.py"):
            mod = module_name(path)
            rules = [r for pkg, rs in FORBIDDEN.items() if mod == pkg or mod.startswith(pkg + ".") for r in rs]
            for imp in imports(path):
                if any(imp == r or imp.startswith(r + ".") for r in rules):
                    bad.append(f"{mod} imports {imp}")
    assert not bad, "\n".join(bad)
