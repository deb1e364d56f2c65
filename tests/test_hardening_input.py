"""The scenario input boundary (hardening): hostile or careless YAML is refused with one line, never a traceback,
never a silent default. One regression test per defect; the whole file runs in a few seconds."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import pytest

from neuroplastic import load_scenario, parse_scenario
from neuroplastic.errors import ScenarioError
from neuroplastic.scenario._yaml import MAX_BYTES, load_yaml

BASE = "duration: 4 weeks\n"
PILL = "treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day}\n"


def refused(text: str, *hints: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for h in hints:
        assert h in msg, msg
    return msg


def bomb() -> str:
    levels = "abcdefgh"
    parts = ["a: &a [" + ",".join(["x"] * 9) + "]"]
    parts += [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip(levels, levels[1:])]
    return "x: {" + ", ".join(parts) + "}\nname: *h\n"


# -- 1. the YAML loader ---------------------------------------------------------------------------------------------
def test_billion_laughs_refused_quickly_and_small():
    text = bomb()
    assert len(text.encode()) < 500
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        refused(text, "aliases", "1,000")
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0 and peak < 100e6


def test_small_aliases_still_work():
    s = parse_scenario("duration: 2 weeks\narms:\n  a: &t [{drug: sertraline, dose: 50 mg, every: 1 day}]\n  b: *t\n")
    assert [a for a, _ in s.arm_list()] == ["a", "b"]


def test_recursive_alias_refused():
    refused("duration: 2 weeks\nx: &a [*a]\n", "*a")


def test_duplicate_key_names_key_and_line():
    msg = refused("duration: 2 weeks\ntreatments: []\nduration: 3 weeks\n", "yaml line 3", "'duration'", "line 1")
    assert "once" in msg
    refused("duration: 2 weeks\ntreatments:\n  - {drug: sertraline, dose: 50 mg, dose: 100 mg}\n", "'dose'")


def test_merge_keys_are_not_duplicates():
    assert load_yaml("b: &b {x: 1, y: 2}\nc: {<<: *b, x: 3}\n")["c"] == {"x": 3, "y": 2}


def test_deep_nesting_one_line():
    refused("[" * 10_000 + "]" * 10_000, "nested at most 50")
    refused("x: " + "{a: " * 200 + "1" + "}" * 200 + "\n", "nested at most 50")


def test_unconstructable_scalars_one_line():
    refused("duration: 2 weeks\nseed: " + "9" * 5000 + "\n", "valid int")
    refused("duration: 2 weeks\nwhen: 2024-13-45\n", "valid timestamp")


def test_python_objects_never_constructed():
    refused("!!python/object/apply:os.system ['echo hacked']", "YAML")


def test_file_checks(tmp_path):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: caf\u00e9\nduration: 2 weeks\ntreatments: []\n".encode("latin-1"))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"duration: 2 weeks\n\x00\x01\x02\xff")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_BYTES + b"\nduration: 2 weeks\n")
    for path, hint in ((latin, "UTF-8 text"), (binary, "NUL"), (big, "1 MiB"), (tmp_path / "missing.yaml", "readable"),
                       (tmp_path, "readable")):
        with pytest.raises(ScenarioError) as exc:
            load_scenario(path)
        assert "\n" not in str(exc.value) and hint in str(exc.value) and "scenario file" in str(exc.value)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfduration: 2 weeks\ntreatments: []\n")
    assert load_scenario(bom).duration == 14 * 86400.0


def test_vns_on_off_keys_still_read():
    s = parse_scenario("duration: 2 weeks\ntreatments:\n  - vns: {current: 1.0 mA, pulse_width: 250 us, "
                       "frequency: 20 Hz, on: 30 s, off: 5 min}\n")
    assert s.treatments[0].vns.on == 30 and s.treatments[0].vns.off == 300


# -- 2. strict types ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    "allow_unsafe: 'false'\n" + PILL,
    "allow_off_label: 1\n" + PILL,
    "expectancy: 'no'\n" + PILL,
    "treatments:\n  - {drug: sertraline, dose: 50 mg, every: 1 day, allow_off_label: 'false'}\n",
    "treatments:\n  - tms: {protocol: 10hz, pulses: 3000, stop: 2 weeks, allow_unsafe: 'false'}\n",
    "treatments:\n  - vns: {current: 1.0 mA, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min, allow_unsafe: 'no'}\n",
])
def test_flags_need_real_booleans(body):
    refused(BASE + body, "true or false")


@pytest.mark.parametrize("body,hint", [
    ("name: [a, b]\n", "name"),
    ("name: 2024\n", "quote it"),
    ("name: {x: 1}\n", "name"),
    ("name: " + "n" * 201 + "\n", "200"),
    ("description: [a]\n", "description"),
    ("description: " + "d" * 10_001 + "\n", "10,000"),
])
def test_name_and_description_are_bounded_strings(body, hint):
    refused(BASE + body + PILL, hint)


def test_arm_names_are_bounded_strings():
    refused(BASE + "arms:\n  1: []\n  b: []\n", "arms", "arm name")
    refused(BASE + "arms:\n  " + "a" * 101 + ": []\n", "100")
    refused(BASE + "treatments:\n  - {drug: [sertraline], dose: 50 mg}\n", "drug")


def test_dose_must_be_a_quantity():
    refused(BASE + "treatments:\n  - {drug: sertraline, dose: true, every: 1 day}\n", "dose", "unit")


# -- 3. non-finite and absurd quantities ----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    "duration: nan h\n" + PILL,
    "duration: inf h\n" + PILL,
    BASE + "output_every: nan h\n" + PILL,
    BASE + "treatments:\n  - {drug: sertraline, dose: nan mg, every: 1 day}\n",
    BASE + "treatments:\n  - {drug: sertraline, dose: 50 mg, every: inf h}\n",
    BASE + "treatments:\n  - {drug: sertraline, dose: 1e400 mg, every: 1 day}\n",
    BASE + "patient: {weight: inf kg}\n" + PILL,
    BASE + "visits: [0 d, nan d]\n" + PILL,
    BASE + "treatments:\n  - vns: {current: inf mA, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min}\n",
])
def test_non_finite_refused(body):
    refused(body, "finite")


def test_infinite_dose_refused_even_off_label():
    refused(BASE + "allow_off_label: true\ntreatments:\n  - {drug: sertraline, dose: inf mg, every: 1 day}\n", "finite")
    refused(BASE + "allow_off_label: true\ntreatments:\n  - {drug: sertraline, dose: 1e300 mg, every: 1 day}\n", "10,000 mg")


def test_quantity_strings_are_not_evaluated():
    t0 = time.perf_counter()
    refused(BASE + "treatments:\n  - {drug: sertraline, dose: 9**9**9 mg, every: 1 day}\n", "dose")
    refused("duration: (2+2) weeks\n" + PILL, "duration")
    assert time.perf_counter() - t0 < 1.0


def test_overflow_in_si_units_refused():
    refused("duration: 1e308 weeks\n" + PILL, "finite")


def test_too_many_doses_refused():
    refused(BASE + "allow_off_label: true\ntreatments:\n  - {drug: sertraline, dose: 1 mg, every: 1 s}\n", "200,000 doses")


# -- 4. output grid, visits, seed -----------------------------------------------------------------------------------
def test_output_every_longer_than_duration():
    refused("duration: 1 week\noutput_every: 2 weeks\n" + PILL, "output_every", "no longer than the duration")


def test_visits():
    refused(BASE + "visits: [1 w, 2 w]\n" + PILL, "visits[0]", "0 days")
    refused(BASE + "visits: [0 d, 2 w, 6 w]\n" + PILL, "visits[2]", "'6 w'", "within the duration")
    refused(BASE + "visits: [0 d, 2 weeks, 2 weeks, 2 weeks]\n" + PILL, "visits[2]", "distinct", "visits[1]")
    assert parse_scenario(BASE + "visits: [2 w, 0 d, 4 w]\n" + PILL).visits == (0.0, 14 * 86400.0, 28 * 86400.0)


def test_seed_bounds():
    refused(BASE + f"seed: {10**26}\n" + PILL, "seed", str(2**63 - 1))
    refused(BASE + "seed: -1\n" + PILL, "seed")
    assert parse_scenario(BASE + f"seed: {2**63 - 1}\n" + PILL).seed == 2**63 - 1


def test_largest_seed_works_in_random_streams():
    import numpy as np

    from neuroplastic._random import normals
    z = normals((2**63 - 1) * 1000 + 7, np.arange(3), 100, 2)   # as the rater-noise seed is formed
    assert np.isfinite(z).all()


# -- 5. silently ignored input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("placebo,hint", [
    ("{form: pill, dose: 10 mg}", "placebo.dose"),
    ("{form: saline, infusion: 40 min}", "placebo.infusion"),
    ("{form: sham_tms, days: daily}", "placebo.days"),
    ("{form: sham_tms, sessions_per_day: 2}", "placebo.sessions_per_day"),
    ("{form: sham_tms, pulses: 3000}", "placebo.pulses"),
    ("{form: pill, at: []}", "non-empty list"),
    ("{form: pill, at: [1 d, 1 d]}", "distinct"),
    ("{form: pill, at: [1 d], start: 1 d}", "not both"),
    ("{form: pill, at: [1 d], stop: 2 d}", "no stop with 'at'"),
    ("{form: pill, every: 10 min}", "at least 1 h"),
    ("{form: implant, every: 1 day}", "for an implant"),
    ("{form: saline, at: [1 d, 5 w]}", "within the scenario duration"),
])
def test_placebo_keys_it_does_not_use_are_refused(placebo, hint):
    msg = refused(BASE + f"treatments:\n  - placebo: {placebo}\n", hint)
    if "placebo." in hint:
        assert "form, start, stop, at" in msg


def test_placebo_single_at_is_the_start():
    s = parse_scenario(BASE + "treatments:\n  - placebo: {form: pill, at: [1 w]}\n")
    assert s.treatments[0].placebo.start == 7 * 86400.0


def test_placebo_at_list_and_every_are_administrations():
    s = parse_scenario(BASE + "treatments:\n  - placebo: {form: saline, at: [0 d, 3 d, 14 d]}\n")
    assert s.treatments[0].placebo.administrations(s.duration) == [0.0, 3 * 86400.0, 14 * 86400.0]
    s = parse_scenario(BASE + "treatments:\n  - placebo: {form: nasal_spray, every: 3.5 days, stop: 2 weeks}\n")
    assert len(s.treatments[0].placebo.administrations(s.duration)) == 4


def test_repeated_saline_keeps_expectancy_that_one_infusion_loses():
    """Each infusion is an administration the patient experiences and renews the belief: until the second infusion
    both courses are the same; by day 10 the repeated one holds more, and the single infusion's fades by the shared extinction."""
    import numpy as np

    from neuroplastic import simulate
    one = parse_scenario(BASE + "treatments:\n  - placebo: {form: saline, at: [0 d]}\n")
    many = parse_scenario(BASE + "treatments:\n  - placebo: {form: saline, at: [0 d, 3 d, 7 d]}\n")
    e1, e3 = (simulate(sc).dataset["expectancy"].values[0] for sc in (one, many))
    assert e1[3] == e3[3] > 0
    assert e3[10] > e1[10] and e1[28] < e1[14]


@pytest.mark.parametrize("treatment", [
    "tms: {protocol: 10hz, pulses: 3000, start: 4 weeks}",
    "tms: {protocol: 10hz, pulses: 3000, start: 10 weeks}",
    "vns: {current: 1.0 mA, pulse_width: 250 us, frequency: 20 Hz, on: 30 s, off: 5 min, start: 5 weeks}",
    "psychotherapy: {kind: cbt, start: 6 weeks}",
    "placebo: {form: pill, start: 4 weeks}",
])
def test_course_starting_after_the_end_refused(treatment):
    refused(BASE + f"treatments:\n  - {treatment}\n", ".start", "before the end of the scenario")


def test_tms_without_any_session_refused():
    # sessions start at 9:00; a 6-hour scenario has none
    refused("duration: 6 h\noutput_every: 1 h\ntreatments:\n  - tms: {protocol: 10hz, pulses: 3000}\n", "at least one session")


# -- 6. through the command line ------------------------------------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "neuroplastic", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("content,hint", [
    (bomb().encode(), "aliases"),
    ((BASE + "allow_off_label: true\ntreatments:\n  - {drug: sertraline, dose: inf mg, every: 1 day}\n").encode(), "finite"),
])
def test_cli_one_line_exit_2_nothing_written(tmp_path, content, hint):
    sc = tmp_path / "s.yaml"
    sc.write_bytes(content)
    out = tmp_path / "out"
    p = _cli("simulate", str(sc), "--out", str(out))
    assert p.returncode == 2, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and hint in lines[0] and "Traceback" not in p.stderr
    assert not out.exists()
