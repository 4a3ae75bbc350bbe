"""One end-to-end run in a real headless Chromium: sign in, correct, approve, check the files."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.review.claims import list_versions, load_claim, versions_dir
from pipeline.review.store import open_store
from tests.review.conftest import FLAGGED, PASSWORDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def server(review_out) -> Iterator[str]:
    import uvicorn

    from flows.review.app import create_app

    out, inbox = review_out
    port = _free_port()
    app = create_app(out, inbox=inbox)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_review_correct_and_approve(server, review_out):
    from playwright.sync_api import sync_playwright

    out, _ = review_out
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/claims/{FLAGGED}")
            assert "/login" in page.url
            page.fill("input[name=username]", "ann")
            page.fill("input[name=password]", PASSWORDS["ann"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/claims/{FLAGGED}")
            assert page.locator(".box.low").count() >= 1
            image = page.locator(".sheet img").first
            image.wait_for()
            assert page.evaluate("img => img.naturalWidth", image.element_handle()) > 0

            row = page.locator("#row-documents-0--fields-total")
            row.locator("input[name=value]").fill("150.00")
            row.locator("button", has_text="Save").click()
            page.wait_for_load_state()
            assert "Saved version 2" in page.content()
            page.click("#approve")
            page.wait_for_load_state()
            assert "Saved version 3" in page.content()
        finally:
            browser.close()

    assert list_versions(out, FLAGGED) == [1, 2, 3]
    claim = load_claim(out, FLAGGED)
    assert claim.status == "ready"
    assert claim.documents[0].fields["total"].value == 150.0
    assert claim.reconciliation.matches is True
    original = load_claim(out, FLAGGED).model_validate_json(
        (versions_dir(out, FLAGGED) / "v1.json").read_bytes()
    )
    assert original.documents[0].fields["total"].value == 400.0
    audit = [(e.who, e.action) for e in open_store(out).audit_log(FLAGGED)]
    assert ("ann", "edit") in audit and ("ann", "approve") in audit and ("ann", "view") in audit
