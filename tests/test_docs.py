"""The documentation stays in sync with the code: the generated parameter table and the how-to scenarios."""

import re
from pathlib import Path

import pytest

import neuroplastic as npl
from neuroplastic._docs import generated_block, parameter_table_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_model_md_parameter_table_matches_registry():
    text = (DOCS / "model.md").read_text(encoding="utf-8")
    assert generated_block(text) == parameter_table_markdown(), (
        "docs/model.md's parameter table is out of date with the registry; "
        "run `python -m neuroplastic._docs` to regenerate it")


def _howto_scenarios():
    text = (DOCS / "howto.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```ya?ml\n(.*?)^```", text, flags=re.S | re.M)
    return [b for b in blocks if re.search(r"^duration:", b, flags=re.M)]


def test_howto_has_scenarios():
    assert len(_howto_scenarios()) >= 8


@pytest.mark.parametrize("block", _howto_scenarios(), ids=lambda b: b.splitlines()[0][:40])
def test_howto_scenario_parses(block):
    sc = npl.parse_scenario(block)
    assert sc.duration > 0
