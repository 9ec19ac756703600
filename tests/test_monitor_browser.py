"""The monitoring page and the validation report in a real browser (headless Chromium).

Each page is opened from disk, screenshotted, and judged on three things a reader would notice: it
loads without a console message (the pages carry no script, so any message is an error), it is not
blank, and it shows plots (saturated pixels: a table is grey on white, a plot is not). Chromium
comes from Debian's packages; ``make test`` installs it when missing, so CI runs this; elsewhere the
tests skip and say why. The background-networking flags keep Chromium from hanging on a closed
network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium; `make test` does)"
)
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1400,3500",
)  # fmt: skip
#: Shares of the screenshot's pixels: not white (a page, not a blank), saturated (plots).
MIN_INK, MIN_COLOUR = 0.03, 0.004


def open_in_chromium(page: Path, png: Path) -> list[str]:
    """Screenshot ``page`` into ``png``; returns the console messages Chromium logged."""
    profile = png.with_suffix(".profile")
    cmd = [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def ink(png: Path) -> tuple[float, float]:
    """Shares of non-white and of saturated pixels in a PNG."""
    import matplotlib.image

    rgb = matplotlib.image.imread(str(png))[..., :3]
    return float((rgb.min(axis=-1) < 0.95).mean()), float((np.ptp(rgb, axis=-1) > 0.25).mean())


def _self_contained(html: str) -> bool:
    return all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', html))


def test_the_check_sees_console_errors_and_blank_pages(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!doctype html><body><p>x</p><script>console.error('boom'); undefined_call();</script>"
    )
    console = open_in_chromium(broken, tmp_path / "broken.png")
    assert any("boom" in line for line in console) and any("undefined_call" in line for line in console)
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><body></body>")
    assert open_in_chromium(blank, tmp_path / "blank.png") == []
    assert ink(tmp_path / "blank.png")[0] < MIN_INK / 10


def test_monitoring_page_and_validation_report_open_clean_with_plots(monitor_books, stable_monitor, tmp_path):
    from training.monitoring.page import render
    from training.report import ReportContext, build_report

    _, result = stable_monitor
    pages = {
        "monitoring": render(result, monitor_books.cfg.monitoring),
        "validation": build_report(
            monitor_books.train_result, monitor_books.cases, ReportContext(), sample=300, seed=7
        ),
    }
    for name, html in pages.items():
        assert _self_contained(html), name
        page = tmp_path / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        png = tmp_path / f"{name}.png"
        assert open_in_chromium(page, png) == [], name
        share, colour = ink(png)
        assert share > MIN_INK and colour > MIN_COLOUR, (name, share, colour)
