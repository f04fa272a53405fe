#!/usr/bin/env bash
# Create bench/.venv-nnsmith with NNSmith 0.1.0 for the generator benchmark (bench/gen_bench.py).
#
# Idempotent: does nothing when the venv already imports nnsmith with the patched exporter.
# torch is installed first from the machine's local CPU wheel (pip's find-links) and then pinned by a
# constraints file, so pip never resolves another torch (PyPI's builds pull gigabytes of CUDA wheels).
# The "+cpu" local version cannot come from PyPI: without the local wheel pip fails at once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-nnsmith"
PY="$VENV/bin/python"
TORCH_VERSION="2.13.0"
TORCH_PIN="torch==$TORCH_VERSION+cpu"
NNSMITH_VERSION="0.1.0"

# NNSmith 0.1.0 predates numpy 2 and onnx >= 1.15; these pins have cp311 wheels and work together.
pins() {
    cat <<EOF
$TORCH_PIN
onnx<1.15
numpy<2
EOF
}

exporter_file() {
    "$PY" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("nnsmith")
print(pathlib.Path(spec.origin).parent / "materialize" / "onnx" / "__init__.py")
EOF
}

# torch >= 2.9 defaults torch.onnx.export to the dynamo exporter; NNSmith needs the TorchScript one.
patch_exporter() {
    local f
    f="$(exporter_file)"
    if ! grep -q "dynamo=False" "$f"; then
        sed -i 's/^\(\s*\)opset_version=14,$/\1opset_version=14,\n\1dynamo=False,/' "$f"
    fi
    grep -q "dynamo=False" "$f" || { echo "nnsmith_env: failed to patch $f" >&2; exit 1; }
}

ready() {
    [ -x "$PY" ] || return 1
    "$PY" -c "import nnsmith, torch, onnx, onnxruntime, z3; assert torch.__version__.startswith('$TORCH_VERSION')" \
        2>/dev/null || return 1
    grep -q "dynamo=False" "$(exporter_file)"
}

# pip warns once per package about the machine's local indexes that lack it; keep the rest of stderr.
pip_install() {
    "$PY" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

main() {
    if ready; then
        echo "nnsmith_env: $VENV is ready"
        return 0
    fi
    [ -x "$PY" ] || python3 -m venv "$VENV"
    pins >"$VENV/constraints.txt"
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    pip_install "$TORCH_PIN"
    pip_install -c "$VENV/constraints.txt" \
        "nnsmith[onnx,onnxruntime]==$NNSMITH_VERSION" "onnx<1.15" "numpy<2"
    patch_exporter
    ready || { echo "nnsmith_env: $VENV is still not usable" >&2; exit 1; }
    echo "nnsmith_env: $VENV is ready"
}

main "$@"
