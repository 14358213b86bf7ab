"""report.html renders in a real browser (headless Chromium), offline, and is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from matplotlib import image as mpimg

from chatkit_pg.reports.build import BuiltReport

from ..requirements import missing

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 2000


def find_browser() -> str | None:
    named = os.environ.get("CHATKIT_PG_BROWSER")
    if named:
        return named
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(browser: str, html: Path, png: Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # we run as root in CI containers
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}",
            html.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_report_html_renders_in_headless_chromium(built_a: BuiltReport, tmp_path: Path) -> None:
    browser = find_browser()
    if browser is None:
        missing(
            "no Chromium/Chrome on PATH: install Debian's `chromium` package, or set "
            "CHATKIT_PG_BROWSER (the report itself is tested without a browser)"
        )
    png = tmp_path / "report.png"
    done = screenshot(browser, built_a.html, png, tmp_path / "profile")
    assert png.is_file(), f"{browser} wrote no screenshot (exit {done.returncode}): {done.stderr}"
    pixels = mpimg.imread(png)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    # A blank page is one colour; ours has text, tables and embedded charts up top.
    non_white = float(np.mean(pixels.min(axis=2) < 0.95))
    rgb = (pixels * 255).astype(np.uint32)
    colours = len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))
    assert non_white > 0.05, f"screenshot is nearly blank ({non_white:.1%} non-white)"
    assert colours > 500, f"screenshot has only {colours} colours"
    # Figures are drawn (decoded data: URIs), not broken-image boxes: charts bring colour.
    saturated = np.ptp(pixels, axis=2) > 0.25
    assert float(np.mean(saturated)) > 0.002
    keep = os.environ.get("CHATKIT_PG_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)
