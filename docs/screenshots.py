"""Screenshots of the explorer, one per guided story, for the docs: ``docs/img/explorer-<story>.png``.

Run from the repository root (needs Debian's ``chromium``; the page is served on loopback for the duration):

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path


def main(out_dir: Path = Path(__file__).parent / "img") -> list[Path]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from neuroplastic.explore import STORIES, create_app

    from neuroplastic.explore._browser import find_chromium

    exe = find_chromium()
    if not exe:
        sys.exit("no Chromium found: apt-get install chromium (or set NEUROPLASTIC_CHROMIUM)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
            pg = b.new_page(viewport={"width": 1500, "height": 1250})
            for st in STORIES:
                pg.goto(f"http://127.0.0.1:{port}/")
                pg.wait_for_selector("body[data-ready='1']")
                pg.click(f"[data-story='{st['id']}']")
                pg.wait_for_function("document.getElementById('status').textContent.startsWith('done')", timeout=300000)
                pg.wait_for_timeout(800)
                path = out_dir / f"explorer-{st['id']}.png"
                pg.screenshot(path=str(path), full_page=False)
                written.append(path)
                print(f"wrote {path}")
            b.close()
    finally:
        srv.should_exit = True
        th.join(10)
    return written


if __name__ == "__main__":
    main()
