"""Screenshot review of report.html in headless Chromium: the first screen answers "how
good is this model" (headline table with its anchors, the reading, the smoke banner of a
quick run), the key plots come right after it, before the full table; nothing overflows
sideways; every image loads; no network request."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from _browser import ARGS, CHROMIUM
from vfbench.report.html import write_html


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")
def test_first_screen_answers_the_question(runs, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    a = runs[0]
    smoke = dataclasses.replace(a, summary={**a.summary, "smoke": True})
    path = write_html(smoke, tmp_path / "report.html")
    shot = tmp_path / "first-screen.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")

            def top(sel: str) -> float:
                return float(page.eval_on_selector(sel, "e => e.getBoundingClientRect().top"))

            def bottom(sel: str) -> float:
                return float(page.eval_on_selector(sel, "e => e.getBoundingClientRect().bottom"))

            geo = {
                "smoke": top("#smoke"),
                "toc": top("#toc"),
                "headline_table_bottom": bottom("#headline table"),
                "reading_bottom": bottom("#headline .reading"),
                "plots": top("#key-plots"),
                "first_plot_bottom": bottom("#key-plots figure"),
                "all_results": top("#all-results"),
            }
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            # the TOC's links land on their sections
            page.click("#toc a[href='#all-results']")
            landed = top("#all-results")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert geo["smoke"] < geo["toc"] < geo["headline_table_bottom"]
    assert geo["headline_table_bottom"] <= 900 and geo["reading_bottom"] <= 900, geo  # first screen
    assert geo["plots"] < geo["all_results"]
    assert geo["first_plot_bottom"] <= 2 * 900, geo  # the key plots within two screens
    assert overflow <= 0, overflow
    assert widths and all(w > 0 for w in widths), widths
    assert abs(landed) < 5, landed
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    # the screenshot is a real rendering (not blank): many distinct grey levels
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape == (900, 1280) and len(np.unique(img)) > 20
