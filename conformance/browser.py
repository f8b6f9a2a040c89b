"""Headless Chromium for the report: open it, check it, take its picture.

Uses Playwright's Python API with the system's Chromium (Debian's
``chromium``), never a downloaded browser. :func:`find_chromium` says where the
browser is, or why there is none, so callers can skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

# Flags for a sandboxed, offline machine: no first-run UI, no background
# connections (refused here, and slow to time out), no GPU.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def find_chromium() -> tuple[str | None, str]:
    """(path to a Chromium binary, or None; the reason when None)."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            try:
                import playwright  # noqa: F401
            except ImportError:
                return None, "the playwright package is not installed (pip install playwright)"
            return shutil.which(candidate), ""
    return None, "no Chromium found: install Debian's chromium (apt-get install chromium) or set CHROMIUM"


@contextmanager
def browser_page(width: int = 1400, height: int = 900) -> Iterator[object]:
    """A Playwright page in headless system Chromium."""
    from playwright.sync_api import sync_playwright

    path, reason = find_chromium()
    if path is None:
        raise RuntimeError(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def screenshot(report: str | Path, image: str | Path) -> None:
    """Save a picture of the top of ``report`` to ``image`` (PNG)."""
    with browser_page() as page:
        page.goto(Path(report).resolve().as_uri())
        page.wait_for_selector("body[data-ready]", timeout=60_000)
        page.screenshot(path=str(image))


def main() -> int:
    path, reason = find_chromium()
    if path is None:
        print(f"screenshot skipped: {reason}", file=sys.stderr)
        return 0
    screenshot(sys.argv[1], sys.argv[2])
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
