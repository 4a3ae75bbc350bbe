from __future__ import annotations

import json
import warnings

import pytest

from pipeline.review.claims import list_versions, load_claim
from pipeline.review.store import open_store
from tests.review.conftest import FLAGGED, PASSWORDS, READY, csrf_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from flows.review.app import create_app

GET_ROUTES = [
    "/",
    "/?status=all",
    f"/claims/{FLAGGED}",
    f"/claims/{FLAGGED}/pages/0/1.png",
    "/dashboard",
    "/exports/labels.csv",
    "/exports/feedback.jsonl",
    "/admin/users",
]
POST_ROUTES = ["edit", "confirm", "doc_type", "approve", "send_back", "note", "label"]


@pytest.fixture()
def client(review_out) -> TestClient:
    out, inbox = review_out
    return TestClient(create_app(out, inbox=inbox, secret_key=b"k" * 32), follow_redirects=False)


def login(client: TestClient, name: str) -> str:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": PASSWORDS[name], "next": "/"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    return csrf_of(client.get("/").text)


@pytest.mark.parametrize("route", GET_ROUTES)
def test_app_logged_out_sees_nothing(client, route):
    response = client.get(route)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "Jane" not in response.text and FLAGGED not in response.text


@pytest.mark.parametrize("action", POST_ROUTES)
def test_app_logged_out_cannot_post(client, review_out, action):
    response = client.post(
        f"/claims/{FLAGGED}/{action}", data={"path": "fields.member_id", "value": "X"}
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert list_versions(review_out[0], FLAGGED) == []


def test_app_wrong_password_is_refused(client):
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "username": "ann", "password": "nope"}
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/").status_code == 303


def test_app_login_without_csrf_is_forbidden(client):
    client.get("/login")
    response = client.post("/login", data={"username": "ann", "password": PASSWORDS["ann"]})
    assert response.status_code == 403


def test_app_login_refuses_open_redirect(client):
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": "ann",
            "password": PASSWORDS["ann"],
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_app_queue_lists_review_claims_with_counts(client):
    login(client, "ann")
    page = client.get("/").text
    assert FLAGGED in page and READY not in page
    assert "<b>1</b> needs review" in page and "<b>1</b> ready" in page
    # Received 2026-01-05 per processed_at: far past both deadlines.
    assert "overdue" in page
    everything = client.get("/?status=all&sort=fraud&desc=1").text
    assert FLAGGED in everything and READY in everything
    assert READY in client.get("/?status=ready").text
    assert FLAGGED not in client.get("/?band=high").text


def test_app_claim_page_shows_values_boxes_and_image(client):
    login(client, "ann")
    page = client.get(f"/claims/{FLAGGED}").text
    assert "ABC12345" in page and 'class="box low"' in page
    assert 'class="vrow low' in page
    image = client.get(f"/claims/{FLAGGED}/pages/0/1.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert client.get(f"/claims/{FLAGGED}/pages/0/7.png").status_code == 404
    assert client.get(f"/claims/{FLAGGED}/pages/3/1.png").status_code == 404
    assert client.get("/claims/clm-missing").status_code == 404


def test_app_edit_makes_version_correction_and_audit(client, review_out):
    out, _ = review_out
    token = login(client, "ann")
    assert client.get(f"/claims/{FLAGGED}").status_code == 200
    response = client.post(
        f"/claims/{FLAGGED}/edit",
        data={"csrf_token": token, "path": "documents[0].fields.total", "value": "150.00"},
    )
    assert response.status_code == 303
    assert list_versions(out, FLAGGED) == [1, 2]
    claim = load_claim(out, FLAGGED)
    assert claim.reconciliation.matches is True and claim.fields.total_billed.value == 150.0
    store = open_store(out)
    [correction] = store.corrections(FLAGGED)
    assert (correction.who, correction.old, correction.new) == ("ann", 400.0, 150.0)
    client.post(
        f"/claims/{FLAGGED}/confirm", data={"csrf_token": token, "path": "fields.member_id"}
    )
    claim = load_claim(out, FLAGGED)
    review_flags = {f.code for f in claim.flags if f.severity != "info"}
    # The app re-scores fraud with the installed model; only a high band may still hold it.
    assert review_flags == ({"FRAUD_RISK"} if claim.fraud.band == "high" else set())
    assert claim.status == ("needs_review" if review_flags else "ready")
    actions = [(e.who, e.action, e.claim_id) for e in store.audit_log(FLAGGED)]
    assert ("ann", "edit", FLAGGED) in actions and ("ann", "confirm", FLAGGED) in actions
    assert ("ann", "view", FLAGGED) in actions
    # The audit log names fields, never the values.
    details = " ".join(e.detail or "" for e in store.audit_log())
    assert (
        "150" not in details
        and "ABC12345" not in details
        and "documents[0].fields.total" in details
    )
    feedback = [json.loads(x) for x in client.get("/exports/feedback.jsonl").text.splitlines()]
    assert feedback[0]["field"] == "documents[0].fields.total" and feedback[0]["new"] == 150.0


def test_app_invalid_edit_shows_message_and_keeps_file(client, review_out):
    out, _ = review_out
    token = login(client, "ann")
    client.post(
        f"/claims/{FLAGGED}/edit",
        data={"csrf_token": token, "path": "fields.total_billed", "value": "lots"},
    )
    assert "not an amount" in client.get(f"/claims/{FLAGGED}").text
    assert list_versions(out, FLAGGED) == []


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_app_forged_or_missing_csrf_is_forbidden(client, review_out, token):
    login(client, "ann")
    data = {"path": "fields.member_id", "value": "EVIL"}
    if token:
        data["csrf_token"] = token
    for action in POST_ROUTES[:-1]:
        assert client.post(f"/claims/{FLAGGED}/{action}", data=data).status_code == 403
    assert list_versions(review_out[0], FLAGGED) == []
    assert "csrf_refused" in {e.action for e in open_store(review_out[0]).audit_log()}


def test_app_approve_and_send_back(client, review_out):
    out, _ = review_out
    token = login(client, "ann")
    client.post(f"/claims/{FLAGGED}/approve", data={"csrf_token": token})
    assert load_claim(out, FLAGGED).status == "ready"
    client.post(
        f"/claims/{FLAGGED}/send_back",
        data={"csrf_token": token, "notice": "Send the itemised bill."},
    )
    claim = load_claim(out, FLAGGED)
    assert claim.status == "incomplete" and claim.completeness.notice == "Send the itemised bill."
    client.post(
        f"/claims/{FLAGGED}/doc_type",
        data={"csrf_token": token, "document": "2", "doc_type": "other"},
    )
    assert load_claim(out, FLAGGED).documents[2].doc_type == "other"
    client.post(f"/claims/{FLAGGED}/note", data={"csrf_token": token, "text": "called the clinic"})
    assert "called the clinic" in client.get(f"/claims/{FLAGGED}").text


def test_app_adjuster_cannot_do_analyst_or_admin_things(client, review_out):
    token = login(client, "ann")
    assert (
        client.post(
            f"/claims/{FLAGGED}/label", data={"csrf_token": token, "label": "1"}
        ).status_code
        == 403
    )
    assert client.get("/exports/labels.csv").status_code == 403
    assert client.get("/admin/users").status_code == 403
    response = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "eve", "role": "admin", "password": "x"},
    )
    assert response.status_code == 403
    store = open_store(review_out[0])
    assert store.user("eve") is None and store.labels() == {}
    assert "denied" in {e.action for e in store.audit_log()}


def test_app_analyst_labels_and_exports_but_cannot_edit(client, review_out):
    out, _ = review_out
    token = login(client, "ned")
    assert (
        client.post(
            f"/claims/{FLAGGED}/label", data={"csrf_token": token, "label": "1"}
        ).status_code
        == 303
    )
    assert client.get("/exports/labels.csv").text == f"claim_id,label\n{FLAGGED},1\n"
    for action in ("edit", "confirm", "approve", "send_back", "doc_type"):
        response = client.post(
            f"/claims/{FLAGGED}/{action}", data={"csrf_token": token, "path": "fields.member_id"}
        )
        assert response.status_code == 403
    assert client.get("/exports/feedback.jsonl").status_code == 403
    assert client.get("/admin/users").status_code == 403
    assert list_versions(out, FLAGGED) == []


def test_app_admin_manages_users_and_sees_audit(client, review_out):
    token = login(client, "ada")
    response = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "bob", "role": "adjuster", "password": "bob-pw"},
    )
    assert response.status_code == 303
    assert open_store(review_out[0]).authenticate("bob", "bob-pw").role == "adjuster"
    page = client.get("/admin/users").text
    assert "bob" in page and "add_user" in page


def test_app_dashboard_charts(client):
    login(client, "ann")
    page = client.get("/dashboard").text
    assert page.count("<svg") == 6
    assert "first review overdue" in page and "invoice" in page


def test_app_logout_ends_session(client):
    token = login(client, "ann")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_app_secret_is_generated_owner_only(review_out):
    import stat

    out, inbox = review_out
    create_app(out, inbox=inbox)
    secret = out / "review.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 64


def test_app_without_inbox_shows_values_only(review_out):
    out, _ = review_out
    client = TestClient(create_app(out, secret_key=b"k" * 32), follow_redirects=False)
    login(client, "ann")
    page = client.get(f"/claims/{FLAGGED}").text
    assert "--inbox" in page and "ABC12345" in page
    assert client.get(f"/claims/{FLAGGED}/pages/0/1.png").status_code == 404


def test_app_page_images_are_cached_owner_only(client, review_out):
    import stat

    out, _ = review_out
    login(client, "ann")
    client.get(f"/claims/{FLAGGED}/pages/0/1.png")
    [png] = list((out / "review_cache").rglob("*.png"))
    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "review_cache").stat().st_mode) == 0o700


def test_app_binds_localhost_by_default():
    import inspect

    from flows.review.app import serve
    from flows.review.command import review

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(review).parameters["host"].default == "127.0.0.1"
