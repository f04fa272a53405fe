"""The files of a sample finding as downloads (shared by the read API and the dashboard)."""

from __future__ import annotations

from fastapi import HTTPException, Response, status
from sqlalchemy.orm import Session

from server.crud import buckets as crud

# download name -> (stored blob name or None for the repro text, media type)
FILES = {
    "model.onnx": ("model", "application/octet-stream"),
    "inputs.npz": ("inputs", "application/octet-stream"),
    "outputs.npz": ("outputs", "application/octet-stream"),
    "original_model.onnx": ("original_model", "application/octet-stream"),
    "repro.py": (None, "text/x-python; charset=utf-8"),
}


def download(session: Session, finding_id: int, filename: str) -> Response:
    if filename not in FILES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no file {filename!r}; files are {', '.join(FILES)}")
    blob_name, media_type = FILES[filename]
    finding = crud.finding(session, finding_id)
    if finding is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"finding {finding_id} does not exist")
    data = crud.blob(session, finding_id, blob_name) if blob_name else (finding.repro_py or "").encode() or None
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"finding {finding_id} keeps no {filename} (not a sample)")
    disposition = f'attachment; filename="finding-{finding_id}-{filename}"'
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})
