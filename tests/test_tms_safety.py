"""rTMS safety limits (Rossi 2009 Table 4; Rossi 2021 for theta burst)."""

import pytest

from neuroplastic.errors import SafetyError, ScenarioError
from neuroplastic.physics.tms import check_protocol, make_protocol, max_train_duration
from neuroplastic.physics.tms.safety import safety_table


def test_table_cites_rossi():
    assert "Rossi" in safety_table()["source"] and "2008" in safety_table()["source"]


def test_20hz_130pct_10s_trains_refused_with_one_line_message():
    proto = make_protocol("custom", 400, frequency=20, train_duration=10, inter_train_interval=30)
    with pytest.raises(SafetyError) as err:
        check_protocol(proto, 130)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("tms.train_duration: '10 s at 20 Hz, 130% rMT' is not allowed")
    assert "Rossi 2009" in msg and "allow_unsafe" in msg
    assert isinstance(err.value, ScenarioError)
    check_protocol(proto, 130, allow_unsafe=True)  # explicit override


def test_clinical_protocols_allowed():
    check_protocol(make_protocol("10hz"), 120)    # O'Reardon 2007: 4 s trains at 120% rMT
    check_protocol(make_protocol("1hz"), 120)     # low frequency: no enforced limit
    check_protocol(make_protocol("5hz"), 120)
    check_protocol(make_protocol("20hz"), 100)
    check_protocol(make_protocol("itbs"), 120)    # THREE-D (Blumberger 2018)
    check_protocol(make_protocol("ctbs"), 80)


def test_limits_shrink_with_frequency_and_intensity():
    assert max_train_duration(20, 90)[0] > max_train_duration(20, 130)[0]
    assert max_train_duration(10, 120)[0] > max_train_duration(20, 120)[0] > max_train_duration(25, 120)[0]


def test_conservative_between_rows_and_columns():
    # 15 Hz uses the 20 Hz row; 115% uses the 120% column
    assert max_train_duration(15, 115) == max_train_duration(20, 120)
    with pytest.raises(SafetyError, match="at most 1 s per train at 15 Hz"):
        check_protocol(make_protocol("custom", 100, frequency=15, train_duration=2, inter_train_interval=30), 115)


def test_beyond_table_refused():
    with pytest.raises(SafetyError, match="25 Hz"):
        check_protocol(make_protocol("custom", 100, frequency=30, train_duration=1, inter_train_interval=30), 100)
    with pytest.raises(SafetyError, match="130% rMT"):
        check_protocol(make_protocol("10hz"), 140)


def test_10hz_train_too_long_at_120():
    with pytest.raises(SafetyError, match="at most 4.2 s per train at 10 Hz"):
        check_protocol(make_protocol("10hz", train_duration=6, inter_train_interval=24), 120)


def test_theta_burst_limits():
    with pytest.raises(SafetyError, match="tms.intensity"):
        check_protocol(make_protocol("itbs"), 140)
    with pytest.raises(SafetyError, match="tms.pulses"):
        check_protocol(make_protocol("itbs", 2400), 100)
