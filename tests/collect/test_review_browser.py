"""Headless Chromium drives the review page: reject by click and by keyboard, reload,
the decisions persisted (in the page and in review.json); the whole keyboard flow (move,
accept, clear, reject, identity, next/previous identity, help) under the page's CSP and
per-session token; long names stay inside the cards. Saves a screenshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _browser import ARGS
from _browser import CHROMIUM as _CHROMIUM

CHROMIUM = Path(_CHROMIUM)


@pytest.mark.browser
def test_reject_by_click_and_key_survives_reload(collection: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    from vfbench.collect.review.app import start_in_thread

    coll = tmp_path / "coll"
    shutil.copytree(collection, coll)
    # a long video name without break opportunities must stay inside its card
    long_name = "interview_with_a_very_long_file_name_" * 4
    cj = json.loads((coll / "collection.json").read_text())
    for ident in cj["identities"]:
        for f in ident["faces"]:
            f["video"] = f["video"].split("/")[0] + "/" + long_name + "-abcd1234"
    (coll / "collection.json").write_text(json.dumps(cj))
    srv, th = start_in_thread(coll, 0)
    url = f"http://127.0.0.1:{srv.port}/identity/spk_m"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url)
            faces = page.locator(".item.face")
            assert faces.count() >= 3
            first, second = faces.nth(0), faces.nth(1)
            id1, id2 = first.get_attribute("data-id"), second.get_attribute("data-id")
            # 1) by click on the item's reject button
            with page.expect_response("**/api/decision"):
                first.locator("button.reject").click()
            # 2) by keyboard: focus the next item with the arrow key, press "r"
            page.keyboard.press("ArrowRight")
            assert page.evaluate("document.activeElement.dataset.id") == id2
            with page.expect_response("**/api/decision"):
                page.keyboard.press("r")
            # 3) the whole identity accepted with Shift+A
            with page.expect_response("**/api/decision"):
                page.keyboard.press("Shift+A")
            page.reload()
            assert "reject" in (
                page.locator(f'.item[data-id="{id1}"]').get_attribute("class") or ""
            )
            assert "reject" in (
                page.locator(f'.item[data-id="{id2}"]').get_attribute("class") or ""
            )
            assert "reject" not in (faces.nth(2).get_attribute("class") or "")
            assert page.locator("#identity-decision").inner_text() == "accept"
            # no card is wider than its box, however long the name in it
            overflow = page.evaluate(
                "Array.from(document.querySelectorAll('.item')).filter("
                "el => el.scrollWidth > el.clientWidth + 1).length"
            )
            assert overflow == 0
            assert long_name[:20] in page.locator(".item.face .meta").first.inner_text()
            # keyboard only: move with l / h, accept with a, clear with u
            third = faces.nth(2)
            third.focus()
            with page.expect_response("**/api/decision"):
                page.keyboard.press("a")
            assert "accept" in (third.get_attribute("class") or "")
            with page.expect_response("**/api/decision"):
                page.keyboard.press("u")
            assert "accept" not in (third.get_attribute("class") or "")
            page.keyboard.press("h")
            assert page.evaluate("document.activeElement.dataset.id") == id2
            page.keyboard.press("l")
            page.keyboard.press("l")
            id4 = page.evaluate("document.activeElement.dataset.id")
            with page.expect_response("**/api/decision"):
                page.keyboard.press("x")
            page.keyboard.press("?")
            assert page.locator("#help").is_visible()
            page.keyboard.press("?")
            page.screenshot(path=str(tmp_path / "review.png"), full_page=False)
            # n / p walk the identities (spk_m -> spk_f and back)
            with page.expect_navigation():
                page.keyboard.press("n")
            assert page.url.endswith("/identity/spk_f")
            with page.expect_navigation():
                page.keyboard.press("p")
            assert page.url.endswith("/identity/spk_m")
            assert "reject" in (
                page.locator(f'.item[data-id="{id4}"]').get_attribute("class") or ""
            )
            browser.close()
    finally:
        srv.shutdown()
        th.join(5)
    saved = json.loads((coll / "review.json").read_text())
    assert saved["items"] == {id1: "reject", id2: "reject", id4: "reject"}
    assert saved["identities"] == {"spk_m": "accept"}
    assert (tmp_path / "review.png").stat().st_size > 10_000
