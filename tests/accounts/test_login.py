"""Signing in and out: argon2id hashes, renewed sessions, dead cookies after logout,
the throttle, and the record of every attempt."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.accounts.models import LoginAttempt, Role, User, UserSession
from portal.extensions import db
from tests.conftest import PASSWORD, csrf_token


def test_password_is_stored_as_an_argon2id_hash(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN)
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_client_signs_in_and_lands_on_their_requests(client, accounts):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    response = accounts.login(client, "dana@acme.test")
    assert response.status_code == 302
    assert response.location == "/"
    page = client.get("/").get_data(as_text=True)
    assert "My requests" in page
    assert "Sign out" in page


def test_wrong_password_is_refused_with_a_message_and_recorded(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    response = accounts.login(client, "bo@portal.test", "not the password")
    assert response.status_code == 401
    assert "That e-mail address and password do not match." in response.get_data(as_text=True)
    accounts.login(client, "nobody@portal.test", "whatever")
    accounts.login(client, "bo@portal.test")
    with app.app_context():
        attempts = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
        assert [(a.email, a.succeeded, a.reason) for a in attempts] == [
            ("bo@portal.test", False, "password"),
            ("nobody@portal.test", False, "unknown-user"),
            ("bo@portal.test", True, "ok"),
        ]
        assert all(a.ip_address == "127.0.0.1" for a in attempts)


def test_repeated_failures_are_throttled_even_with_the_right_password(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert accounts.login(client, "bo@portal.test", "wrong password").status_code == 401
    response = accounts.login(client, "bo@portal.test")
    assert response.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 800
    assert client.get("/").status_code == 302  # still signed out
    with app.app_context():
        last = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id.desc())).first()
        assert (last.succeeded, last.reason) == (False, "throttled")


def test_throttle_lifts_when_the_failures_are_old(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        accounts.login(client, "bo@portal.test", "wrong password")
    with app.app_context():
        for attempt in db.session.scalars(select(LoginAttempt)):
            attempt.attempted_at -= timedelta(minutes=app.config["LOGIN_THROTTLE_MINUTES"] + 1)
        db.session.commit()
    assert accounts.login(client, "bo@portal.test").status_code == 302


def test_session_is_renewed_at_login(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    client.get("/login")
    before = client.get_cookie("portal_session").value
    accounts.login(client, "bo@portal.test")
    after = client.get_cookie("portal_session").value
    assert before != after
    # A second sign-in starts a second, separate session.
    other = app.test_client()
    accounts.login(other, "bo@portal.test")
    with app.app_context():
        sessions = db.session.scalars(select(UserSession)).all()
        assert len(sessions) == 2
        assert len({s.token_hash for s in sessions}) == 2


def test_a_copy_of_the_cookie_no_longer_works_after_logout(app, client, accounts):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    copied = client.get_cookie("portal_session").value
    assert client.get("/").status_code == 200

    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 302

    thief = app.test_client()
    thief.set_cookie("portal_session", copied)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_an_idle_session_ends(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.login(client, "bo@portal.test")
    assert client.get("/").status_code == 200
    with app.app_context():
        row = db.session.scalar(select(UserSession))
        row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
        db.session.commit()
    assert client.get("/").status_code == 302


def test_logout_needs_a_post_with_the_csrf_token(client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.login(client, "bo@portal.test")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_login_without_csrf_token_is_refused(client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    client.get("/login")
    response = client.post("/login", data={"email": "bo@portal.test", "password": PASSWORD})
    assert response.status_code == 400
    assert "This page had expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_next_only_leads_back_into_the_portal(client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=https://evil.test/phish",
        data={"email": "bo@portal.test", "password": PASSWORD, "csrf_token": token},
    )
    assert response.location == "/"


def test_deactivated_user_cannot_sign_in(app, client, accounts):
    user_id = accounts.user("bo@portal.test", Role.APPROVER)
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert accounts.login(client, "bo@portal.test").status_code == 401
