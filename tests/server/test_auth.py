"""Signing in, CSRF, private reading and the session cookie."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.main import create_app
from tests.server.conftest import make_settings
from tests.server.factory import PASSWORD, TOKEN, csrf_of, finding, sign_in, upload


def test_triage_needs_a_signed_in_user_and_the_csrf_token(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url)), follow_redirects=False) as http:
        bucket_id = upload(http, finding("crash in Tile")).json()["bucket_id"]
        page = http.get(f"/buckets/{bucket_id}")
        assert page.status_code == 200 and "Sign in</a> to triage" in page.text
        token = csrf_of(http.get("/login").text)
        anonymous = http.post(f"/buckets/{bucket_id}/status", data={"status": "confirmed", "csrf_token": token})
        assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/login?next=/buckets/{bucket_id}"
        wrong = http.post("/login", data={"username": "admin", "password": "nope", "csrf_token": token})
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
        no_csrf = http.post("/login", data={"username": "admin", "password": PASSWORD})
        assert no_csrf.status_code == 403
        token = sign_in(http)
        forged = http.post(f"/buckets/{bucket_id}/status", data={"status": "confirmed", "csrf_token": "forged"})
        assert forged.status_code == 403
        ok = http.post(f"/buckets/{bucket_id}/status", data={"status": "confirmed", "csrf_token": token})
        assert ok.status_code == 303
        note = http.post(f"/buckets/{bucket_id}/notes", data={"text": "seen on CPU only", "csrf_token": token})
        assert note.status_code == 303
        page = http.get(f"/buckets/{bucket_id}").text
        assert "seen on CPU only" in page and 's-confirmed">confirmed' in page
        assert http.post("/logout", data={"csrf_token": token}).status_code == 303
        after = http.post(f"/buckets/{bucket_id}/notes", data={"text": "x", "csrf_token": token})
        assert after.status_code in (303, 403)  # signed out: the session and its token are gone


def test_login_redirects_only_to_local_paths(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url)), follow_redirects=False) as http:
        token = csrf_of(http.get("/login").text)
        form = {"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
        assert http.post("/login", data=form).headers["location"] == "/buckets"


def test_a_tampered_session_cookie_is_ignored(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url)), follow_redirects=False) as http:
        sign_in(http)
        cookie = http.cookies["tensorsmith_session"]
        http.cookies.clear()
        http.cookies.set("tensorsmith_session", cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB"))
        assert "signed in as" not in http.get("/buckets").text


def test_private_reading_needs_a_user_or_a_worker_token(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url, public_read=False)), follow_redirects=False) as http:
        bucket_id = upload(http, finding("crash in Where")).json()["bucket_id"]
        assert http.get("/buckets").status_code == 303
        assert http.get(f"/buckets/{bucket_id}").headers["location"] == f"/login?next=/buckets/{bucket_id}"
        assert http.get("/api/v1/buckets").status_code == 401
        assert http.get("/api/v1/buckets", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        sign_in(http)
        assert http.get("/buckets").status_code == 200 and http.get("/api/v1/buckets").status_code == 200


def test_unsafe_settings_are_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from server.settings import Settings

    for bad in ({"admin_password": "changethis"}, {"worker_token": "short"}, {"secret_key": "secret"}):
        with pytest.raises(ValidationError, match="unsafe"):
            Settings(**bad)
    generated = Settings()
    assert len(generated.worker_token.get_secret_value()) >= 24
