"""Property tests (hypothesis) for invariants of the quasi-steady circuit, the nuclei and stress-suppressed synthesis."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.brain import circuit, neuromodulators
from neuroplastic.plasticity import bdnf, neurogenesis
from neuroplastic.params import default_parameters

P = default_parameters()
pos = st.floats(0.3, 3.0)


@settings(max_examples=200, deadline=None)
@given(m5=pos, mne=pos, mda=pos, spines=st.floats(0.4, 1.3), eff=st.floats(0.2, 3.0), nm=st.floats(0.0, 3.0),
       stress=st.floats(0.0, 2.0), sig=st.floats(0.3, 1.5), td=st.floats(-1, 1), ts=st.floats(-1, 1),
       ud=st.floats(0, 3), burst=st.floats(0, 1))
def test_circuit_solution_is_a_fixed_point_within_range(m5, mne, mda, spines, eff, nm, stress, sig, td, ts, ud, burst):
    p = P.group("brain.circuit")
    a = lambda v: np.array([v])
    a_d, a_s, a_h, a_r = circuit.solve(p, m5=a(m5), mne=a(mne), mda=a(mda), spines=a(spines), efficacy=a(eff),
                                       n_mature=a(nm), stress=a(stress), sigma_s=a(sig), theta_d=a(td),
                                       theta_s=a(ts), u_d=a(ud), burst=a(burst))
    for r in (a_d, a_s, a_h, a_r):
        assert 0 <= r[0] <= p["rate_max"]
    more = circuit.solve(p, m5=a(m5), mne=a(mne), mda=a(mda), spines=a(spines), efficacy=a(eff), n_mature=a(nm),
                         stress=a(stress), sigma_s=a(sig), theta_d=a(td), theta_s=a(ts), u_d=a(ud), burst=a(burst),
                         iterations=80)
    assert np.allclose(a_d, more[0], atol=1e-9) and np.allclose(a_s, more[1], atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(occ=st.floats(0.0, 0.99), A=st.floats(0.05, 2.0), drive=st.floats(0.2, 3.0))
def test_nucleus_feedback_is_consistent(occ, A, drive):
    p = P.group("brain.raphe")
    f, s, o = neuromodulators.nucleus(p, np.array([occ]), np.array([A]), np.array([drive]))
    F = p["f0"] * (1 + p["autoreceptor_gain"] * p["autoreceptor_occ0"]) * drive
    assert f[0] > 0 and 0 < o[0] < 1
    assert np.isclose(f[0] * (1 + p["autoreceptor_gain"] * A * o[0]), F, rtol=1e-9)
    # blocking more transporter never lowers the extracellular level
    f2, s2, _ = neuromodulators.nucleus(p, np.array([min(occ + 0.005, 0.99)]), np.array([A]), np.array([drive]))
    assert s2[0] >= s[0] - 1e-15


@settings(max_examples=200, deadline=None)
@given(stress=st.floats(0.0, 50.0), drive=st.floats(-5.0, 5.0), b=st.floats(0.0, 3.0), c=st.floats(0.0, 3.0))
def test_stress_never_drives_transcription_or_proliferation_negative(stress, drive, b, c):
    """Stress suppresses CREB-driven BDNF transcription and dentate proliferation at most to nothing: a load that life
    events pile onto a slowly resolving episode (beyond 1/s) once drove CREB, BDNF, the TrkB signal and labile spines
    negative (and made the step control refine one such patient for twenty weeks)."""
    pn = P.group("plasticity.neurogenesis")
    assert bdnf.creb_target(P.group("plasticity.bdnf"), np.array(drive), np.array(stress)) >= 0.0
    # with every stage empty, the progenitors' rate is the proliferation itself
    n0 = tuple(np.zeros(1) for _ in neurogenesis.healthy(pn)[0])
    assert neurogenesis.rates(pn, n0, np.array([b]), np.array([c]), np.array([stress]))[0][0] >= 0.0
