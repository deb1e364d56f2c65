"""Driving the explorer from a headless browser (tests, screenshots): where Chromium is, and the app served on a
free loopback port in a background thread."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager


def find_chromium() -> str | None:
    """The Chromium executable: ``$NEUROPLASTIC_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH.

    Example
    -------
    >>> find_chromium() is None or isinstance(find_chromium(), str)
    True
    """
    return os.environ.get("NEUROPLASTIC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def background_server():
    """The explorer served on a free loopback port in a daemon thread; yields its base URL, stops it on exit.

    Example
    -------
    >>> import urllib.request
    >>> with background_server() as url:
    ...     urllib.request.urlopen(url + "/api/stories").status
    200
    """
    import uvicorn

    from ._server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(400):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(10)
