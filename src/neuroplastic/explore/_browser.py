"""Where the headless browser for the explorer's tests and screenshots is (Debian's ``chromium``)."""

from __future__ import annotations

import os
import shutil


def find_chromium() -> str | None:
    """The Chromium executable: ``$NEUROPLASTIC_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH.

    Example
    -------
    >>> find_chromium() is None or isinstance(find_chromium(), str)
    True
    """
    return os.environ.get("NEUROPLASTIC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
