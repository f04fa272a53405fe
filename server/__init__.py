"""The bug-report service (FastAPI + SQLAlchemy): buckets of findings, triage dashboard; see docs/server.md."""
