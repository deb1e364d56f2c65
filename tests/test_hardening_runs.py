"""Runs that stop cleanly, checkpoints that cannot mix, and safe output destinations.

Ctrl-C (SIGINT to the process group) and SIGTERM stop a cohort run on every back end within seconds with one
line and exit 130 / 143, leave no process and no temporary folder behind and keep the finished chunks, and
``--resume`` then gives the uninterrupted result; a checkpoint's tag covers everything that shapes a chunk and a
corrupt chunk is computed again; ``--out`` refuses the root, the empty string and folders it did not write, and
``--overwrite`` replaces a results folder as a whole.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neuroplastic as npl
from neuroplastic._outdir import DestinationError, check_destination
from neuroplastic.engine._simulate import Checkpoint

NP = [sys.executable, "-m", "neuroplastic"]

SINGLE = """name: one patient
duration: 3 days
output_every: 12 h
seed: 1
treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
"""

COHORT = """name: signal cohort
duration: 2 weeks
seed: 3
patients: {n: 300, population: mdd}
visits: [0 d, 1 w, 2 w]
treatments: [{drug: escitalopram, dose: 10 mg, every: 1 day}]
"""
CHUNK = 50  # 6 chunks: the run is still going when the first one is stored

SMALL = """name: small cohort
duration: 1 week
seed: 2
patients: {n: 12, population: mdd}
visits: [0 d, 3 d, 1 w]
treatments: [{drug: sertraline, dose: 50 mg, every: 1 day}]
"""


def cli(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([*NP, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


class _Run:
    def __init__(self, r):
        self.returncode, self.stdout, self.stderr = r.exit_code, r.stdout, r.stderr


def run(*args, cwd=None):
    """The command line in this process (no interpreter start): exit code, stdout, stderr."""
    from typer.testing import CliRunner

    from neuroplastic.cli import app
    old = os.getcwd()
    os.chdir(cwd or old)
    try:
        return _Run(CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False))
    finally:
        os.chdir(old)


def _one_line_error(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def _listing(folder: Path) -> dict:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


# --out destinations -------------------------------------------------------------------------------------------------

@pytest.fixture()
def single(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text(SINGLE)
    return sc


def test_root_and_empty_out_refused(tmp_path, single):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    line = _one_line_error(run("simulate", single, "--out", "/", cwd=cwd))
    assert "root" in line and "--out" in line
    line = _one_line_error(cli("simulate", str(single), "--out", "", cwd=cwd))  # as typed: '' (a Path makes it '.')
    assert "''" in line
    line = _one_line_error(run("simulate", single, "--out", ".", cwd=cwd))
    assert "current folder" in line
    assert not list(cwd.iterdir()) and not list(tmp_path.glob(".neuroplastic-*"))
    for args in (["demo", "--out", "/"], ["validate", "--out", "/"], ["power", single, "--n", "4", "--out", "."],
                 ["calibrate", "--out", "/"]):
        assert _one_line_error(run(*args, cwd=cwd)).startswith("error: --out")
    assert not list(cwd.iterdir())


def test_foreign_folder_refused_and_untouched(tmp_path, single):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "sub" / "data.csv").write_text("1,2,3")
    (mine / "summary.json").write_text("{}")  # one familiar name does not make it a results folder
    before = _listing(mine)
    for extra in ([], ["--overwrite"], ["--resume"]):
        line = _one_line_error(run("simulate", single, "--out", mine, *extra))
        assert "notes.txt" in line and "did not write" in line
    assert _listing(mine) == before and not list(tmp_path.glob(".neuroplastic-*"))


def test_second_run_needs_overwrite_which_replaces_the_folder(tmp_path, single):
    out = tmp_path / "out"
    out.mkdir()  # an existing empty folder (pytest's tmp_path, a folder made beforehand) is accepted
    p = run("simulate", single, "--out", out)
    assert p.returncode == 0, p.stderr
    assert {f.name for f in out.iterdir()} == {"results.nc", "summary.json", "overview.png"}
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()  # the usual permissions, not a temp folder's 0700
    first = _listing(out)
    line = _one_line_error(run("simulate", single, "--out", out, "--no-figure"))
    assert "--overwrite" in line
    assert _listing(out) == first
    p = run("simulate", single, "--out", out, "--no-figure", "--overwrite")
    assert p.returncode == 0, p.stderr
    assert {f.name for f in out.iterdir()} == {"results.nc", "summary.json"}  # no stale overview.png
    assert not list(tmp_path.glob(".neuroplastic-*"))


def _umask():
    old = os.umask(0o022)
    os.umask(old)
    return old


def test_demo_and_validate_replace_their_own_folder(tmp_path, monkeypatch):
    """`neuroplastic demo --out demo-output` (the README's first command) run twice: the second run replaces the
    first demo as a whole; validate's report folder likewise; a foreign folder is refused by both."""
    import neuroplastic.demo
    import neuroplastic.validation

    def fake_demo(out_dir, console=None):
        names = ["pills.png", "hypotheses.png"] + (["ketamine.png"] if not calls else [])
        calls.append(out_dir)
        for n in names:
            (out_dir / n).write_bytes(b"png")
        return [out_dir / n for n in names]

    def fake_validation(out_dir, cross_validate=True, console=None):
        calls.append(out_dir)
        for n in ("validation.json", "report.md") + (("fig_onset.png",) if len(calls) == 1 else ()):
            (out_dir / n).write_text("x")
        return {"line": "1/1 targets passed", "passed": 1, "total": 1}

    monkeypatch.setattr(neuroplastic.demo, "run_demo", fake_demo)
    monkeypatch.setattr(neuroplastic.validation, "run_validation", fake_validation)
    for cmd, first, second in (("demo", {"pills.png", "hypotheses.png", "ketamine.png"}, {"pills.png", "hypotheses.png"}),
                               ("validate", {"validation.json", "report.md", "fig_onset.png"}, {"validation.json", "report.md"})):
        calls = []
        out = tmp_path / cmd
        for expected in (first, second):
            p = run(cmd, "--out", out, cwd=tmp_path)
            assert p.returncode == 0, p.stderr
            assert {f.name for f in out.iterdir()} == expected  # the second run left no file of the first
        assert calls[0] != out and calls[0].parent == tmp_path  # written beside --out, then put in place
        if cmd == "demo":
            assert str(out / "pills.png") in p.stdout
        (out / "mine.txt").write_text("x")
        assert "mine.txt" in _one_line_error(run(cmd, "--out", out, cwd=tmp_path))
    assert not list(tmp_path.glob(".neuroplastic-*"))


def test_destination_rules_of_each_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "d"
    d.mkdir()
    assert check_destination(d, "simulate") is False  # empty
    (d / "pills.png").write_bytes(b"x")
    (d / "treatments.png").write_bytes(b"x")
    assert check_destination(d, "demo") is True  # an earlier demo is replaced without --overwrite
    with pytest.raises(DestinationError, match="did not write"):
        check_destination(d, "simulate", overwrite=True)
    v = tmp_path / "v"
    v.mkdir()
    for n in ("validation.json", "report.md", "fig_onset.png"):
        (v / n).write_text("x")
    assert check_destination(v, "validate") is True
    pw = tmp_path / "p"
    pw.mkdir()
    (pw / "power.json").write_text("{}")
    with pytest.raises(DestinationError, match="--overwrite"):
        check_destination(pw, "power")
    assert check_destination(pw, "power", overwrite=True) is True
    cal = tmp_path / "cal"
    cal.mkdir()
    (cal / "plasticity-v3.yaml").write_text("x: 1")
    assert check_destination(cal, "calibrate") is False  # a new version is added beside it
    partial = tmp_path / "interrupted"
    (partial / ".partial").mkdir(parents=True)
    with pytest.raises(DestinationError, match="--resume"):
        check_destination(partial, "simulate")
    assert check_destination(partial, "simulate", resume=True) is True
    for bad in ("/", Path.home(), tmp_path, Path(".")):
        with pytest.raises(DestinationError):
            check_destination(bad, "simulate")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DestinationError, match="a file of that name exists"):
        check_destination(tmp_path / "file", "demo")


# checkpoints --------------------------------------------------------------------------------------------------------

def test_checkpoint_tag_covers_grid_keep_chunk_and_frozen(tmp_path):
    from neuroplastic._api import _checkpoint, _out_times
    from neuroplastic.params import default_parameters
    from neuroplastic.scenario import parse_scenario

    sc, p = parse_scenario(SMALL), default_parameters()
    tag = lambda **kw: Checkpoint(tmp_path, sc, p, **kw).tag
    visits = _out_times(sc, "visits")
    assert tag(out_times=visits) == tag(out_times=list(visits)) == _checkpoint(sc, tmp_path, keep="auto").tag
    assert len({tag(), tag(out_times=visits), tag(chunk=4), tag(frozen=("plasticity",)),
                tag(out_times=visits, chunk=4)}) == 5
    assert _checkpoint(sc, tmp_path, keep="full").tag != _checkpoint(sc, tmp_path, keep="visits").tag


def test_resume_after_changing_keep_does_not_mix_grids(tmp_path):
    ck = tmp_path / "partial"
    npl.simulate(SMALL, chunk=4, checkpoint_dir=ck, keep="visits")
    full = npl.simulate(SMALL, chunk=4, checkpoint_dir=ck, keep="full").dataset
    assert full.sizes["time"] == npl.simulate(SMALL, keep="full").dataset.sizes["time"] > 3
    assert len(list(ck.glob("*.npz"))) == 6  # two grids, three chunks each, under different tags


def test_corrupt_chunks_are_computed_again(tmp_path):
    ck = tmp_path / "partial"
    ref = npl.simulate(SMALL, chunk=4).dataset
    npl.simulate(SMALL, chunk=4, checkpoint_dir=ck)
    files = sorted(ck.glob("*.npz"))
    assert len(files) == 3
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])  # a truncated write
    files[1].write_bytes(b"")                     # an empty file
    z = dict(np.load(files[2]))
    z["observed:severity"] = z["observed:severity"][:, :2]  # a chunk of the wrong shape
    np.savez(files[2], **z)
    again = npl.simulate(SMALL, chunk=4, checkpoint_dir=ck).dataset
    xr.testing.assert_identical(again, ref)
    assert all(np.load(f)["observed:severity"].shape[1] == 4 for f in sorted(ck.glob("*.npz")))


# signals ------------------------------------------------------------------------------------------------------------

def _group(pgid: int) -> list[str]:
    """Processes (zombies included) in process group ``pgid``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                found.append(f"{d.name} {stat.split(' (', 1)[1].split(')')[0]} {fields[0]}")
    return found


@pytest.fixture(scope="module")
def reference():
    return npl.simulate(COHORT).dataset


@pytest.mark.parametrize("sig, backend", [(signal.SIGINT, "pool"), (signal.SIGTERM, "pool"),
                                          (signal.SIGTERM, "in-process"),
                                          pytest.param(signal.SIGINT, "dask", marks=pytest.mark.skipif(
                                              not os.environ.get("NEUROPLASTIC_SLOW"),
                                              reason="starts a Dask cluster (CI time): set NEUROPLASTIC_SLOW=1"))],
                         ids=["SIGINT-pool", "SIGTERM-pool", "SIGTERM-in-process", "SIGINT-dask"])
def test_signal_stops_run_cleanly_and_resume_completes_it(tmp_path, reference, sig, backend):
    if backend == "dask":
        pytest.importorskip("distributed")
    sc = tmp_path / "cohort.yaml"
    sc.write_text(COHORT)
    out = tmp_path / "out"
    env = {**os.environ, "NEUROPLASTIC_CHUNK": str(CHUNK), "NEUROPLASTIC_POOL_MIN": "1",
           "NEUROPLASTIC_PROCESSES": "1" if backend == "in-process" else "2"}
    extra = ["--workers", "2"] if backend == "dask" else []
    proc = subprocess.Popen([*NP, "simulate", str(sc), "--out", str(out), "--no-figure", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not [f for f in (out / ".partial").glob("*.npz") if not f.name.endswith(".tmp.npz")]:
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.05)
        t0 = time.time()
        os.killpg(proc.pid, sig)  # what Ctrl-C (SIGINT) or a batch scheduler (SIGTERM) does
        stdout, stderr = proc.communicate(timeout=10)
        stopped = time.time() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    assert stopped < 10
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "--resume" in lines[0], stderr
    deadline = time.time() + 5
    while _group(proc.pid) and time.time() < deadline:  # workers, forkserver, Dask workers: all gone
        time.sleep(0.1)
    assert not _group(proc.pid), _group(proc.pid)
    assert not list(tmp_path.glob(".neuroplastic-*"))
    kept = sorted(f.name for f in (out / ".partial").glob("*.npz"))
    assert kept and not any(f.endswith(".tmp.npz") for f in kept) and not (out / "results.nc").exists()
    assert f"{len(kept)} of 6 chunks" in lines[0]
    from neuroplastic._api import _checkpoint
    assert all(f.startswith(_checkpoint(COHORT, out / ".partial", chunk=CHUNK).tag) for f in kept)  # found on resume
    if backend == "pool":  # the finished chunks are not thrown away by a rerun without --resume
        assert "--resume" in _one_line_error(run("simulate", sc, "--out", out))
    p = cli("simulate", str(sc), "--out", str(out), "--no-figure", "--resume", env={**env, "NEUROPLASTIC_PROCESSES": "1"})
    assert p.returncode == 0, p.stderr
    assert {f.name for f in out.iterdir()} == {"results.nc", "summary.json"}
    with xr.open_dataset(out / "results.nc") as ds:
        xr.testing.assert_identical(ds.load(), reference)
