"""The parameter registry: every parameter declared once, with unit, range and a source or calibration target."""

import pytest

from neuroplastic.errors import ParameterError
from neuroplastic.params import default_parameters


def test_every_parameter_has_unit_range_and_provenance():
    p = default_parameters()
    assert len(p) > 150
    for name, par in p.items():
        assert par.unit, name
        assert par.low <= par.value <= par.high, name
        assert par.source or par.calibrated, name


def test_calibrated_parameters_name_their_target():
    p = default_parameters()
    cal = p.calibrated()
    assert cal, "some parameters are calibrated"
    for name in cal:
        assert len(p[name].calibrated) > 10


def test_overrides_are_new_values_and_checked():
    p = default_parameters()
    q = p.with_values({"pk.escitalopram.half_life": 28.0})
    assert p.value("pk.escitalopram.half_life") == 30.0 and q.value("pk.escitalopram.half_life") == 28.0
    with pytest.raises(ParameterError):
        p.with_values({"pk.escitalopram.half_life": 1000.0})
    with pytest.raises(ParameterError):
        p["no.such.parameter"]


def test_si_conversion():
    p = default_parameters()
    assert p.si("pk.escitalopram.half_life") == pytest.approx(30 * 3600)
    assert p.si("pd.escitalopram.k_sert") == pytest.approx(5.3e-6)  # nM -> mol/m^3
