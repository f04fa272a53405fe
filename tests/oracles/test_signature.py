"""Bug titles: golden files of real backend failures, and the normalisation rules one line each.

Each tests/oracles/signature_golden/*.json holds one real failure (backend, kind, stage, message,
log, the model's op types, where it came from) and the title and alternative titles it must get.
After an intended change of the rules, rewrite the expectations and review the diff:

    python -m tests.oracles.test_signature update
    python -m tests.oracles.test_signature add FINDING_DIR [FINDING_DIR ...]   # new cases from findings
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from oracles.signature import frames, normalise, sign
from oracles.signature.frames import cxx_name
from oracles.signature.headline import headline

GOLDEN = Path(__file__).resolve().parent / "signature_golden"
CASES = sorted(GOLDEN.glob("*.json"))


def signature_of(case: dict):
    return sign(
        backend=case["backend"],
        kind=case["kind"],
        stage=case["stage"],
        message=case["message"],
        log=case["log"],
        ops=case["ops"],
        dtype=case.get("dtype", ""),
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_title(path: Path) -> None:
    case = json.loads(path.read_text())
    sig = signature_of(case)
    assert sig.title == case["title"]
    assert list(sig.alt_titles) == case["alt_titles"]


def test_there_are_enough_golden_files_from_every_backend() -> None:
    backends = {json.loads(p.read_text())["backend"].split("-")[0] for p in CASES}
    assert len(CASES) >= 30 and {"tvm", "openvino", "onnxruntime", "iree", "torch"} <= backends


def test_golden_titles_carry_no_run_specific_text() -> None:
    for path in CASES:
        title = json.loads(path.read_text())["title"]
        assert not re.search(r"\bt\d+\b|\bn\d+\b|0x[0-9a-f]{4,}|/tmp/|\.(cc|cpp|py|h):\d+", title), (path.name, title)


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Gather node. Name:'n5' input t12", "Gather node. Name:'v?' input v?"),
        ("R.multiply(lv1, t1) and R.add(lv, gv3)", "R.multiply(v?, v?) and R.add(v?, v?)"),
        ("at 0x7f3a2c001234 in pid 4242", "at 0x? in pid N"),
        ("error at /tmp/tmpab12cd/model.onnx line 42", "error at <tmp> line N"),
        ("failed at src/core/shape_inference/tile.hpp:34:", "failed at tile.hpp:"),
        ("R.Tensor((1, 64), dtype=int64) [2,3] (3,)", "R.Tensor((N*), dtype=int64) [N*] (N*)"),
        ("Relu(14) T.int64(3) conv1d resize2d float16 opset1", "Relu(N) T.int64(N) conv1d resize2d float16 opset1"),
        ("value -1 and 9.99e-05 and 2.5", "value N and N and N"),
        ("Tile_562669 (Convert_562668)", "Tile_? (Convert_?)"),
    ],
)
def test_normalise(raw: str, clean: str) -> None:
    assert normalise(raw) == clean


def test_headline_of_an_openvino_report_is_its_reason() -> None:
    msg = (
        "OpenVINOError: Check 'false' failed at src/frontends/common/unconverted_ops_report.cpp:151:\n"
        "FrontEnd API failed with OpConversionFailure:\n-- Tile-21 with a message:\n"
        "While validating ONNX node '<Node(Tile): n9>': "
        "Check 'rank(1)' failed at src/core/tile_shape_inference.hpp:34:\n"
        "Tile repeats must be of rank 1\nSummary:\n-- Conversion is failed for: Tile-21"
    )
    assert (
        headline("exception", msg)
        == "OpenVINOError: Tile repeats must be of rank N (check rank(N) in tile_shape_inference.hpp)"
    )


def test_mismatch_headlines_drop_the_numbers() -> None:
    assert headline("wrong_result", "wrong_result in t3: max abs error 4.9e-07 (12/60 elements)") == "wrong result"
    assert headline("wrong_shape", "wrong_shape in t2: {'expected': [], 'got': [1]}") == "rank 1 instead of 0"
    assert headline("wrong_dtype", "wrong_dtype in t4: {'expected': 'int32', 'got': 'float64'}") == (
        "float64 instead of int32"
    )


def test_frames_skip_glue_and_keep_cxx_names() -> None:
    log = (
        "Traceback (most recent call last):\n"
        '  File "/work/main/oracles/backends/worker.py", line 67, in serve\n'
        '  File "/x/site-packages/tvm/relax/frontend/onnx/onnx_frontend.py", line 6642, in _convert_operator\n'
        '  File "python/tvm_ffi/cython/function.pxi", line 1038, in tvm_ffi.core.Function.__call__\n'
        '  File "/project/src/relax/op/op_common.h", line 334, in tvm::ffi::Optional<tvm::PrimType> '
        "tvm::relax::InferDtype(const tvm::Call&, const BlockBuilder&)\n"
        "TypeError: boom\n"
    )
    assert frames(log) == ["tvm::relax::InferDtype", "onnx_frontend._convert_operator"]
    assert cxx_name("std::vector<int> ns::A<B>::f(int) const") == "ns::A::f"


def test_titles_differ_by_ops_and_agree_without_them() -> None:
    a = sign(backend="tvm", kind="wrong_result", stage="run", message="wrong_result in t3: x", ops=("Add",))
    b = sign(backend="tvm@/opt/py", kind="wrong_result", stage="run", message="wrong_result in t9: y", ops=("Mul",))
    assert a.title == "tvm: wrong_result in run: wrong result [Add]" and a.title != b.title and a.key == b.key
    c = sign(
        backend="tvm", kind="wrong_result", stage="run", message="wrong_result in t3: x", ops=("Add",), dtype="f64"
    )
    assert c.title == "tvm: wrong_result in run: wrong result in f64 [Add]" and c.key == a.key


# --- maintaining the golden files -------------------------------------------------------------


def _write(path: Path, case: dict) -> None:
    sig = signature_of(case)
    case = dict(case, title=sig.title, alt_titles=list(sig.alt_titles))
    path.write_text(json.dumps(case, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _add(folder: Path) -> Path:
    from oracles.signature import op_types

    meta = json.loads((folder / "meta.json").read_text())
    case = {k: meta.get(k, "") for k in ("backend", "kind", "stage", "message")}
    case.update(log=meta.get("error_log", ""), ops=list(op_types((folder / "model.onnx").read_bytes())))
    case["dtype"] = meta.get("outputs", {}).get(meta.get("output") or "", {}).get("dtype", "")
    case["source"] = f"finding {folder.name} ({meta['backend']} {meta.get('backend_version', '')})"
    return _save(case)


def _save(case: dict) -> Path:
    """Write a new golden file named after the case's headline (the log is kept to its last 4000 chars)."""
    case = dict(case, log=case["log"][-4000:])
    slug = re.sub(r"[^a-z0-9]+", "-", signature_of(case).headline.lower()).strip("-")[:40].strip("-")
    path, k = GOLDEN / f"{case['backend']}-{case['kind']}-{slug}.json", 1
    while path.exists():
        k += 1
        path = path.with_name(f"{case['backend']}-{case['kind']}-{slug}-{k}.json")
    _write(path, case)
    return path


def main(argv: list[str]) -> None:
    if argv[:1] == ["update"]:
        for path in CASES:
            _write(path, json.loads(path.read_text()))
    elif argv[:1] == ["add"]:  # finding folders, or .jsonl files of raw failures (one JSON object a line)
        for arg in map(Path, argv[1:]):
            if arg.suffix == ".jsonl":
                for line in arg.read_text().splitlines():
                    print(_save(json.loads(line)))
            else:
                print(_add(arg))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
