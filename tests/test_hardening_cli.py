"""Hardening, the command line's own output: user text is never parsed as Rich markup, and usage errors are one
line with exit 2 like every other refusal (issue: markup injection; multi-line usage boxes)."""

import subprocess
import sys

import pytest

NP = [sys.executable, "-m", "neuroplastic"]


def cli(*args, timeout=300):
    return subprocess.run([*NP, *args], capture_output=True, text=True, timeout=timeout)


NAMES = ["[/x]", "[link=https://example.org]escitalopram[/link]", "[bold red]x", "a [/] b"]


@pytest.mark.parametrize("name", NAMES)
def test_markup_in_a_drug_name_is_printed_not_parsed(tmp_path, name):
    sc = tmp_path / "s.yaml"
    sc.write_text(f"duration: 1 week\ntreatments:\n  - {{drug: {name!r}, dose: 10 mg, every: 1 day}}\n")
    p = cli("simulate", str(sc), "--out", str(tmp_path / "o"))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert name in lines[0], "the offending text is shown as written (a [link] must not hide it)"
    assert "Traceback" not in p.stderr and not (tmp_path / "o").exists()


def test_markup_in_scenario_and_arm_names_runs_and_prints_them(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text("name: '[/x] [link=x]trial[/link]'\nduration: 2 days\narms:\n"
                  "  '[/x]': [{drug: sertraline, dose: 50 mg, every: 1 day}]\n  'b[bold]': []\n")
    p = cli("simulate", str(sc), "--out", str(tmp_path / "o"), "--no-figure")
    assert p.returncode == 0, p.stderr
    assert "[/x]:" in p.stdout and "b[bold]:" in p.stdout
    assert (tmp_path / "o" / "results.nc").exists()


@pytest.mark.parametrize("args", [["--workers", "abc"], ["--bogus"], ["--keep"]])
def test_usage_errors_are_one_line(tmp_path, args):
    sc = tmp_path / "s.yaml"
    sc.write_text("duration: 1 day\n")
    p = cli("simulate", str(sc), "--out", str(tmp_path / "o"), *args)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), p.stderr
    assert "╭" not in p.stderr and not (tmp_path / "o").exists()


def test_unreadable_scenario_is_one_line(tmp_path):
    d = tmp_path / "adir.yaml"
    d.mkdir()
    for target in (d, tmp_path / "missing.yaml"):
        p = cli("simulate", str(target), "--out", str(tmp_path / "o"))
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert not (tmp_path / "o").exists()


def test_help_still_works():
    p = cli("--help")
    assert p.returncode == 0 and "simulate" in p.stdout
    p = cli("simulate", "--help")
    assert p.returncode == 0 and "--max-memory" in p.stdout and "--overwrite" in p.stdout
