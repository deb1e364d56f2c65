"""Output folders: which destinations a command may write to, and putting a finished folder in place as a whole.

Every command that takes ``--out`` writes into a new or empty folder, or replaces a folder that holds only its
own earlier output (``simulate`` and ``power`` only with ``--overwrite``; ``demo`` and ``validate``, whose folders
have a default name and are regenerated, without). A folder holding anything else, the filesystem root, the
home folder, the current folder and the empty string are refused. Results are written to a temporary folder
beside the destination and swapped in at the end, so no stale file of an earlier run remains and an interrupted
run never leaves a half-written folder.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import signal
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import NeuroplasticError

# what each command writes into its folder (names, then glob patterns); a folder holding only these is its own
OUTPUTS: dict[str, tuple[frozenset, tuple[str, ...]]] = {
    "simulate": (frozenset({"results.nc", "summary.json", "overview.png", ".partial"}), ()),
    "demo": (frozenset({"pills.png", "hypotheses.png", "ketamine.png", "treatments.png"}), ()),
    "validate": (frozenset({"validation.json", "validation_all.json", "report.md"}), ("fig_*.png",)),
    "power": (frozenset({"power.json", "power.png"}), ()),
    "calibrate": (frozenset(), ("plasticity-v*.yaml", "monoamine-v*.yaml", ".*-seed*-*.journal.jsonl")),
    "identifiability": (frozenset({"identifiability.json"}), ()),
    "twin": (frozenset({"posterior.nc", "record.yaml", "fit.json", "forecast.json", "forecast.png"}), ()),
}
# commands that replace a folder of their own output without --overwrite (default folder names, regenerated);
# calibrate only adds a new version beside the earlier sets, never replaces one
REPLACE_OWN = {"demo", "validate", "identifiability"}
ADD_ONLY = {"calibrate"}


class DestinationError(NeuroplasticError):
    """An --out destination that a command refuses to write to."""


def _own(kind: str, name: str) -> bool:
    names, patterns = OUTPUTS[kind]
    return name in names or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def check_destination(path, kind: str, *, overwrite: bool = False, resume: bool = False,
                      given_empty: bool = False, option: str = "--out") -> bool:
    """Raise DestinationError unless ``kind``'s output may go to ``path``; True when ``path`` already holds its
    earlier output (which the new output replaces as a whole), False when it is new or an empty folder."""
    p = Path(path)
    shown = repr(str(path)) if not given_empty else "''"
    if given_empty or str(path) == "":
        raise DestinationError(f"{option}: '' is not allowed; expected the path of a folder for the results, "
                               f"e.g. {option} results")
    resolved = p.expanduser().resolve()
    if resolved == Path(resolved.anchor):
        raise DestinationError(f"{option}: {shown} is not allowed; it is the filesystem root - name a folder for "
                               f"the results, e.g. {option} results")
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # pragma: no cover - no home folder
        home = None
    if resolved == home:
        raise DestinationError(f"{option}: {shown} is not allowed; it is your home folder - name a folder for the "
                               f"results, e.g. {option} ~/results")
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise DestinationError(f"{option}: {shown} is not allowed; it is the current folder"
                               f"{'' if resolved == cwd else ' or holds it'} - name a folder for the results, "
                               f"e.g. {option} results")
    if p.exists() and not p.is_dir():
        raise DestinationError(f"{option}: {shown} is not allowed; expected a directory path (a file of that name "
                               "exists)")
    if not p.exists():
        if p.is_symlink():
            raise DestinationError(f"{option}: {shown} is not allowed; it is a broken symbolic link")
        return False
    try:
        entries = sorted(e.name for e in p.iterdir())
    except OSError as exc:
        raise DestinationError(f"{option}: {shown} is not allowed; the folder cannot be read ({exc.strerror})") from None
    if not entries:
        return False
    foreign = [e for e in entries if not _own(kind, e)]
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise DestinationError(f"{option}: {shown} is not allowed; it is a folder that holds files neuroplastic "
                               f"{kind} did not write ({listed}) - choose a new or empty folder")
    if kind in REPLACE_OWN or kind in ADD_ONLY:
        return kind in REPLACE_OWN
    if kind == "simulate" and resume:
        return True
    if not overwrite:
        if entries == [".partial"]:
            raise DestinationError(f"{option}: {shown} holds an interrupted run; rerun with --resume to continue it "
                                   "or with --overwrite to start over")
        raise DestinationError(f"{option}: {shown} holds the results of an earlier run; pass --overwrite to replace "
                               "them (the whole folder) or choose another folder")
    return True


def staging(out) -> Path:
    """A new empty folder beside ``out`` (same filesystem, so it can be renamed into place)."""
    out = Path(out)
    parent = out.parent if str(out.parent) not in ("", ".") else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    new = parent / f".neuroplastic-{uuid.uuid4().hex[:12]}"
    new.mkdir()  # the usual permissions (umask), unlike mkdtemp's 0700: it becomes the output folder
    return new


@contextmanager
def signals_deferred():
    """SIGINT/SIGTERM arriving inside the block are delivered when it ends (the block always completes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {}
    for s in sigs:
        old[s] = signal.getsignal(s)
        if old[s] not in (signal.SIG_IGN, None):
            signal.signal(s, lambda n, f: got.append(n))
    try:
        yield
    finally:
        for s, h in old.items():
            if h is not None:
                signal.signal(s, h)
        if got:
            signal.raise_signal(got[0])


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    return 0o022


def publish(new, out) -> None:
    """Put the finished folder ``new`` at ``out`` as a whole: an existing ``out`` is renamed aside, ``new`` renamed
    into its place and the old one deleted, with signals held off, so ``out`` is always either the old folder or the
    complete new one and no file of the old one remains."""
    new, out = Path(new), Path(out)
    try:
        os.chmod(new, 0o777 & ~_umask())  # mkdtemp made it 0700
    except OSError:  # pragma: no cover
        pass
    with signals_deferred():
        old = None
        if out.exists() or out.is_symlink():
            old = out.parent / f".neuroplastic-old-{uuid.uuid4().hex[:12]}"
            os.rename(out, old)
        try:
            os.rename(new, out)
        except BaseException:
            if old is not None:
                os.rename(old, out)
            raise
        if old is not None:
            if old.is_symlink() or not old.is_dir():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
