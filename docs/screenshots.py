"""Screenshots of the explorer, one per guided story, for the docs: ``docs/img/explorer-<story>.png``.

Run from the repository root (needs Debian's ``chromium``; the page is served on loopback for the duration):

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out_dir: Path = Path(__file__).parent / "img") -> list[Path]:
    from playwright.sync_api import sync_playwright

    from neuroplastic.explore import STORIES
    from neuroplastic.explore._browser import background_server, find_chromium

    exe = find_chromium()
    if not exe:
        sys.exit("no Chromium found: apt-get install chromium (or set NEUROPLASTIC_CHROMIUM)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with background_server() as base, sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
        pg = b.new_page(viewport={"width": 1500, "height": 1250})
        for st in STORIES:
            pg.goto(base + "/")
            pg.wait_for_selector("body[data-ready='1']")
            pg.click(f"[data-story='{st['id']}']")
            pg.wait_for_function("document.getElementById('status').textContent.startsWith('done')", timeout=300000)
            pg.wait_for_timeout(800)
            path = out_dir / f"explorer-{st['id']}.png"
            pg.screenshot(path=str(path), full_page=False)
            written.append(path)
            print(f"wrote {path}")
        b.close()
    return written


if __name__ == "__main__":
    main()
