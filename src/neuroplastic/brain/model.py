"""BrainModel: the shared biology every treatment acts on.

Treatments never appear here. The model sees only input channels (transporter and receptor occupancy, drives to
nuclei and to dlPFC, expectancy); every delay between an input and mood emerges from the slow state below.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np

from .._units import DAY, HOUR
from ..engine import StateLayout, StateVar
from ..mood import severity as sev
from ..params import ParameterSet
from ..plasticity import bdnf, consolidation, excitability, homeostatic, meta, neurogenesis, receptors, structural
from . import circuit, neuromodulators

INPUT_CHANNELS = ("sert_occupancy", "net_occupancy", "dat_occupancy", "nmda_occupancy",
                  "raphe_drive", "lc_drive", "vta_drive", "dlpfc_drive", "reward_drive")
KETAMINE_MECHANISMS = ("both", "disinhibition", "eef2")
_DEFAULT_INPUT = {"raphe_drive": 1.0, "lc_drive": 1.0, "vta_drive": 1.0}

_AUTORECEPTOR = {"5ht": "ht1a_sensitivity", "ne": "alpha2_sensitivity", "da": "d2_sensitivity"}

_VARS = [
    StateVar("ht1a_sensitivity", "1", "5-HT1A autoreceptor sensitivity (dorsal raphe)", 5 * DAY, "plasticity.receptors"),
    StateVar("alpha2_sensitivity", "1", "alpha2 autoreceptor sensitivity (locus coeruleus)", 5 * DAY, "plasticity.receptors"),
    StateVar("d2_sensitivity", "1", "D2 autoreceptor sensitivity (VTA)", 5 * DAY, "plasticity.receptors"),
    StateVar("creb", "1", "cAMP-CREB transcriptional drive (relative to healthy)", 5 * DAY, "plasticity.bdnf"),
    StateVar("bdnf", "1", "BDNF protein, prefrontal/hippocampal (relative to healthy)", 6 * HOUR, "plasticity.bdnf"),
    StateVar("bdnf_released", "1", "BDNF released by firing above its recent mean, still signalling through TrkB (relative to the tonic level)", 1 * HOUR, "plasticity.bdnf"),
    StateVar("spine_synthesis", "1", "mTOR-dependent synthesis of the synaptic proteins that build new spines (relative to healthy)", 12 * HOUR, "plasticity.structural"),
    StateVar("spines_labile", "1", "labile (new) prefrontal spine density (relative to healthy total)", 3 * DAY, "plasticity.structural"),
    StateVar("spines_stable", "1", "stable prefrontal spine density (relative to healthy total)", 30 * DAY, "plasticity.structural"),
    StateVar("neurogenesis_progenitors", "1", "dentate amplifying progenitors (relative)", 7 * DAY, "plasticity.neurogenesis"),
    StateVar("neurogenesis_neuroblasts", "1", "dentate neuroblasts (relative)", 7 * DAY, "plasticity.neurogenesis"),
    StateVar("neurogenesis_immature", "1", "immature adult-born dentate neurons (relative)", 7 * DAY, "plasticity.neurogenesis"),
    StateVar("neurogenesis_late_immature", "1", "late immature adult-born dentate neurons (relative)", 7 * DAY, "plasticity.neurogenesis"),
    StateVar("neurogenesis_mature", "1", "mature adult-born dentate neurons (relative to healthy)", 90 * DAY, "plasticity.neurogenesis"),
    StateVar("ltp_early", "1", "early synaptic change of dlPFC->sgACC control (relative efficacy change)", 2 * HOUR, "plasticity.consolidation"),
    StateVar("plasticity_proteins", "1", "plasticity-related proteins (relative)", HOUR, "plasticity.consolidation"),
    StateVar("ltp_late", "1", "late (consolidated) synaptic change of dlPFC->sgACC control", 10 * DAY, "plasticity.consolidation"),
    StateVar("tag_refractory", "1", "fraction of control synapses tagged by a recent induction, not yet potentiable again (first stage)", 15 * 60.0, "plasticity.consolidation"),
    StateVar("tag_recovering", "1", "fraction of control synapses recovering from a recent induction (second stage)", 15 * 60.0, "plasticity.consolidation"),
    StateVar("bcm_threshold", "1", "BCM sliding modification threshold (dlPFC)", 2 * DAY, "plasticity.meta"),
    StateVar("sgacc_scaling", "1", "homeostatic scaling of sgACC excitatory drive", 3 * DAY, "plasticity.homeostatic"),
    StateVar("threshold_dlpfc", "1", "intrinsic firing-threshold shift, dlPFC", 2 * DAY, "plasticity.excitability"),
    StateVar("threshold_sgacc", "1", "intrinsic firing-threshold shift, sgACC", 2 * DAY, "plasticity.excitability"),
    StateVar("stress_load", "1", "depressive stress / HPA load (1 = typical moderate-severe episode): follows the exposure plus what sgACC hyperactivity sustains", 30 * DAY, "brain.stress"),
    StateVar("stress_exposure", "1", "exogenous stress exposure of the episode (life circumstances; resolves at the natural-course rate, life events add to it)", 30 * DAY, "brain.stress"),
    StateVar("stress_acute", "1", "acute stress response to recent life events, not yet part of the exposure (raised serotonin and consolidated prefrontal control damp how much of it stays)", 10 * DAY, "brain.stress"),
    StateVar("stress_initial", "1", "stress load at the start", DAY, "brain.stress", output=False),
    StateVar("plasticity_capacity", "1", "activity-dependent BDNF release capacity (1 typical; lower in Val66Met)", DAY, "trait", output=False),
    StateVar("episode_rate", "1", "natural-course speed of this episode (1 typical)", DAY, "trait", output=False),
    StateVar("expectancy_cue", "1", "expectation of benefit reinforced by the administrations experienced so far (extinguishing)", 14 * DAY, "brain.expectancy"),
    StateVar("expectancy", "1", "expectancy of benefit (0 none, 1 = an oral placebo course)", 3 * DAY, "brain.expectancy"),
    StateVar("expectancy_prediction", "1", "benefit an administration is predicted to bring, learned from the administrations experienced (kept: extinction lowers the expectation of benefit, not what an administration is known to signal)", 14 * DAY, "brain.expectancy", output=False),
    StateVar("expectancy_surprise", "1", "surprise of an administration: what it signals beyond what was predicted (a prediction error, decaying within hours)", HOUR, "brain.expectancy"),
    StateVar("mood", "1", "latent depressive mood (severity 0 none .. 1 maximal), following what the circuit implies; output as severity", 12 * HOUR, "mood.state", output=False),
    StateVar("mood_integral", "day", "running integral of latent mood since the start (read by the rating recall windows)", 7 * DAY, "mood.state", output=False),
    StateVar("monoamine_index", "1", "lagged synaptic monoamine index (monoamine hypothesis)", DAY, "mood.monoamine"),
    StateVar("severity_untreated", "1", "untreated latent severity of this patient", DAY, "mood.severity", output=False),
]


PARAM_KEY = "param:"  # input-dict key prefix of a per-patient parameter value (batched parameter sets)
# the group attributes of BrainModel and the registry prefixes they hold (brain.raphe/lc/vta: p_nuc[transmitter])
_GROUP_ATTRS = {"plasticity.receptors": "p_rec", "plasticity.bdnf": "p_bdnf", "plasticity.structural": "p_str",
                "plasticity.neurogenesis": "p_ng", "plasticity.consolidation": "p_con", "plasticity.meta": "p_meta",
                "plasticity.homeostatic": "p_hom", "plasticity.excitability": "p_ie", "brain.circuit": "p_circ",
                "brain.ketamine": "p_ket", "mood.severity": "p_sev", "mood.monoamine": "p_mono",
                "brain.expectancy": "p_exp", "mood.state": "p_mood", "brain.stress": "p_stress"}
# parameters that set the linear decay rates of the exponential integrator (its weights are cached per step
# length, one set for all patients), so they cannot take a different value per patient
LINEAR_DECAY_PARAMETERS = ("plasticity.bdnf.protein_time", "plasticity.bdnf.creb_time", "plasticity.structural.synthesis_time",
                           "plasticity.consolidation.early_time", "plasticity.consolidation.protein_time",
                           "plasticity.consolidation.refractory_time",
                           "plasticity.meta.time", "mood.monoamine.lag")


def per_patient_parameter(name: str) -> bool:
    """Whether the brain model can take ``name`` as a per-patient array (see :meth:`BrainModel.groups`)."""
    if name in LINEAR_DECAY_PARAMETERS:
        return False
    module = ".".join(name.split(".")[:2])
    return module in _GROUP_ATTRS or module in {f"brain.{grp}" for grp, _, _ in neuromodulators.SYSTEMS.values()}


def stress_feedback(p: dict, rs):
    """Stress load sustained by sgACC activity ``rs`` (relative to healthy): G x^n / (x^n + x_h^n), x = max(rs - 1, 0).

    Example
    -------
    >>> p = {"feedback_gain": 1.0, "feedback_half": 0.5, "feedback_hill": 4.0}
    >>> [round(float(stress_feedback(p, np.array(r))), 3) for r in (1.0, 1.5, 2.0)]
    [0.0, 0.5, 0.941]
    """
    x = np.maximum(rs - 1.0, 0.0)
    n = p["feedback_hill"]
    xn = x ** n
    return p["feedback_gain"] * xn / (xn + p["feedback_half"] ** n)


def N_of(v):
    return tuple(v[s] for s in neurogenesis.STAGES) + (v["neurogenesis_mature"],)


class BrainModel:
    """The brain, plasticity and mood model for a cohort.

    ``hypothesis`` selects which state mood is read from (``plasticity`` or ``monoamine``); ``frozen`` lists
    module prefixes whose slow state is held fixed (e.g. ``("plasticity",)`` removes every plasticity process).

    Example
    -------
    >>> from neuroplastic.params import default_parameters
    >>> m = BrainModel(default_parameters())
    >>> y0 = m.baseline(np.array([1.0]))
    >>> 20 <= float(m.observe(y0, m.null_inputs(1))["hamd17_expected"][0]) <= 30
    True
    """

    layout = StateLayout(_VARS)

    def __init__(self, params: ParameterSet, hypothesis: str = "plasticity", frozen: tuple[str, ...] = (),
                 ketamine_mechanism: str = "both", per_patient: tuple[str, ...] = ()):
        """``per_patient`` names parameters whose values come per patient with the inputs, as arrays under
        ``PARAM_KEY + name`` (one value per patient; batched parameter sets); ``params`` holds the rest."""
        bad = [n for n in per_patient if not per_patient_parameter(n)]
        if bad:
            from ..errors import ParameterError
            raise ParameterError(f"parameters {bad} cannot take per-patient values in the brain model "
                                 f"(linear decay rates of the integrator: {list(LINEAR_DECAY_PARAMETERS)})")
        self.per_patient = tuple(per_patient)
        self.params = params
        self.hypothesis = hypothesis
        self.ketamine_mechanism = ketamine_mechanism
        self.frozen = tuple(frozen)
        g = params.group
        self.p_nuc = {k: g(f"brain.{grp}") for k, (grp, _, _) in neuromodulators.SYSTEMS.items()}
        self.p_rec = g("plasticity.receptors")
        self.p_bdnf = g("plasticity.bdnf")
        self.p_str = g("plasticity.structural")
        self.p_ng = g("plasticity.neurogenesis")
        self.p_con = g("plasticity.consolidation")
        self.p_meta = g("plasticity.meta")
        self.p_hom = g("plasticity.homeostatic")
        self.p_ie = g("plasticity.excitability")
        self.p_circ = g("brain.circuit")
        self.p_ket = g("brain.ketamine")
        self.p_sev = g("mood.severity")
        self.p_mono = g("mood.monoamine")
        self.p_exp = g("brain.expectancy")
        self.p_mood = g("mood.state")
        self.p_stress = g("brain.stress")
        self._use_burst = ketamine_mechanism in ("both", "disinhibition")
        self._use_eef2 = ketamine_mechanism in ("both", "eef2")
        self.rq = self.p_circ["rate_max"] / 4.0
        mask = np.ones(len(self.layout))
        for i, v in enumerate(self.layout.vars):
            if any(v.module.startswith(f) for f in self.frozen):
                mask[i] = 0.0
        self._mask = mask
        self._groups_hit = None  # (arrays, model) of the last groups() call
        self._where = []  # per-patient parameter -> (input key, attribute, transmitter or None, key in the group)
        nuc = {f"brain.{grp}": m for m, (grp, _, _) in neuromodulators.SYSTEMS.items()}
        for name in self.per_patient:
            module, key = ".".join(name.split(".")[:2]), ".".join(name.split(".")[2:])
            if module in nuc:
                self._where.append((PARAM_KEY + name, "p_nuc", nuc[module], key))
            else:
                self._where.append((PARAM_KEY + name, _GROUP_ATTRS[module], None, key))

    def __getstate__(self):   # copies and pickles never carry the groups() cache
        d = self.__dict__.copy()
        d["_groups_hit"] = None
        return d

    def groups(self, inp: dict | None):
        """The model with its per-patient parameters (``per_patient``) taken from ``inp``: ``self`` when there are
        none; otherwise a shallow copy whose parameter groups hold those arrays (patients as in ``inp``, so a subset
        of patients, as the integrator's sub-steps and the steady-state solver take, sees its own values)."""
        if not self._where:
            return self
        if inp is None:
            raise ValueError("this model has per-patient parameters: pass the inputs that carry them")
        arrays = tuple(inp[key] for key, _, _, _ in self._where)
        hit = self._groups_hit   # the same arrays as the last call (one step's stages, one sub-step subset)
        if hit is not None and all(a is b for a, b in zip(hit[0], arrays)):
            return hit[1]
        g = copy.copy(self)
        g._groups_hit = None
        for key, attr, m, k in self._where:
            val = inp[key]
            if m is not None:
                if g.p_nuc is self.p_nuc:
                    g.p_nuc = dict(self.p_nuc)
                if g.p_nuc[m] is self.p_nuc[m]:
                    g.p_nuc[m] = dict(self.p_nuc[m])
                g.p_nuc[m][k] = val
                continue
            if getattr(g, attr) is getattr(self, attr):
                setattr(g, attr, dict(getattr(self, attr)))
            getattr(g, attr)[k] = val
        g.rq = g.p_circ["rate_max"] / 4.0
        self._groups_hit = (arrays, g)
        return g

    def per_patient_inputs(self, values: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        """Input-dict entries carrying the per-patient parameter ``values`` (name -> (P,) array, SI)."""
        values = values or {}
        missing = set(self.per_patient) - set(values)
        if missing:
            raise ValueError(f"per-patient values missing for {sorted(missing)}")
        return {PARAM_KEY + n: np.asarray(values[n], float) for n in self.per_patient}

    # -- inputs ------------------------------------------------------------------------------------------
    @staticmethod
    def null_inputs(n_patients: int) -> dict[str, np.ndarray]:
        return {k: np.full(n_patients, _DEFAULT_INPUT.get(k, 0.0)) for k in INPUT_CHANNELS}

    # -- fast (quasi-steady) layer -------------------------------------------------------------------------
    def fast(self, y: np.ndarray, inp: dict, _g=None) -> dict[str, np.ndarray]:
        """Everything in quasi-steady state given slow state y (P, n) and inputs."""
        g = self.groups(inp) if _g is None else _g
        v = self.layout.view(y)
        out = {}
        rel = {}
        expect = v["expectancy"]
        drives = {"lc_drive": inp["lc_drive"],
                  "vta_drive": inp["vta_drive"] * (1.0 + g.p_exp["w_vta"] * expect
                                                    + g.p_circ["w_reward_vta"] * inp["reward_drive"])}
        for m in ("ne", "da", "5ht"):  # NE first: the raphe receives noradrenergic (alpha1) drive
            grp, occ_ch, drive_ch = neuromodulators.SYSTEMS[m]
            drive = drives.get(drive_ch)
            if m == "5ht":
                drive = inp["raphe_drive"] * (1.0 + g.p_circ["w_ne_raphe"] * np.maximum(rel["ne"] - 1.0, 0.0))
            f, s, o = neuromodulators.nucleus(g.p_nuc[m], inp[occ_ch], v[_AUTORECEPTOR[m]], drive)
            out[f"{grp}_firing"], out[f"synaptic_{m}"], out[f"{grp}_autoreceptor_occupancy"] = f, s, o
            rel[m] = s / g.p_nuc[m]["level0"]
        out["rel"] = rel
        # stress reactivity: serotonin dampens how much of a new stressor's acute response becomes lasting exposure
        # (antidepressants normalise HPA hyperactivity and the limbic response to stressors), D = k x / (1 + x);
        # so does consolidated prefrontal control of the same synapses (learned control over stress blunts the
        # response to later stressors, Amat 2005; less cognitive reactivity after CBT, Segal 2006): + k_c z
        x5 = np.maximum(rel["5ht"] - 1.0, 0.0)
        out["stress_buffer"] = (g.p_stress["buffer_5ht"] * x5 / (1.0 + x5)
                                + g.p_stress["buffer_control"] * np.maximum(v["ltp_late"], 0.0))
        # ketamine-type NMDA block: interneurons (disinhibition burst) and resting block on pyramidal cells
        occ = np.minimum(np.maximum(inp["nmda_occupancy"], 0.0), 0.999)
        x_int = g.p_ket["interneuron_selectivity"] * occ / (1.0 - occ)
        o_int = x_int / (1.0 + x_int)
        n = g.p_ket["burst_hill"]
        burst = o_int ** n / (o_int ** n + g.p_ket["burst_half"] ** n)
        if not self._use_burst:
            burst = burst * 0.0
        out["glutamate_burst"] = burst
        spines = v["spines_labile"] + v["spines_stable"]
        # the pathway's efficacy is structural x consolidated synaptic strength: early change (decaying within hours
        # unless captured) is the induction stage that tags synapses for late change, not yet a change of the circuit
        efficacy = spines * (1.0 + v["ltp_late"])
        state = dict(m5=rel["5ht"], mne=rel["ne"], mda=rel["da"], spines=spines, efficacy=efficacy,
                     n_mature=neurogenesis.young_index(g.p_ng, N_of(v)), stress=v["stress_load"],
                     sigma_s=v["sgacc_scaling"], theta_d=v["threshold_dlpfc"], theta_s=v["threshold_sgacc"], burst=burst)
        # standing drives (the belief), and the phasic drive of an administration's surprise (the prediction error,
        # carried by dopamine to the reward node: ventral striatum)
        u_d0 = g.p_exp["w_dlpfc"] * expect
        u_r0 = g.p_exp["w_reward"] * expect + g.p_exp["w_surprise"] * v["expectancy_surprise"]
        task_d, task_r = inp["dlpfc_drive"], inp["reward_drive"]
        a_d, a_s, a_h, a_r = circuit.solve(g.p_circ, u_d=task_d + u_d0, u_r=task_r + u_r0, **state)
        out.update(activity_dlpfc=a_d, activity_sgacc=a_s, activity_hippocampus=a_h, activity_reward=a_r,
                   spine_density=spines, control_efficacy=efficacy)
        rd = a_d / g.rq
        out["trkb_signal"] = bdnf.trkb_signal(g.p_bdnf, v["bdnf"], rd, v["plasticity_capacity"])
        # release from firing above its recent mean (the BCM reference): what drives spine-building synthesis
        out["bdnf_phasic"] = v["bdnf"] * bdnf.release(g.p_bdnf, np.maximum(rd - v["bcm_threshold"], 0.0),
                                                      v["plasticity_capacity"])
        # symptoms are read from the circuit at rest: the activity a session, a stimulation train or homework evokes
        # while it lasts trains the circuit (plasticity, homeostasis and the stress loop see it) but is not itself a
        # change of mood; what the task leaves behind (potentiation, spines, thresholds) is.
        if task_d.any() or task_r.any():
            a_d, a_s, a_h, a_r = circuit.solve(g.p_circ, u_d=u_d0, u_r=u_r0, **state)
        z = sev.circuit_imbalance(g.p_sev, a_d, a_s, a_h, a_r, g.rq)
        sev_circuit = sev.from_circuit(g.p_sev, z)
        if self.hypothesis == "monoamine":
            course = v["stress_load"] / np.maximum(v["stress_initial"], 1e-9)
            out["severity"] = sev.from_monoamines(g.p_mono, v["severity_untreated"] * course, v["monoamine_index"])
        else:
            out["severity"] = sev_circuit
        out["severity_circuit"] = sev_circuit
        return out

    # -- slow layer ----------------------------------------------------------------------------------------
    def rhs(self, y: np.ndarray, inp: dict) -> np.ndarray:
        g = self.groups(inp)
        v = self.layout.view(y)
        f = self.fast(y, inp, g)
        rel = f["rel"]
        dy = np.zeros_like(y)
        d = self.layout.view(dy)
        for m, (grp, _, _) in neuromodulators.SYSTEMS.items():
            d[_AUTORECEPTOR[m]] = receptors.desensitisation_rate(
                v[_AUTORECEPTOR[m]], f[f"{grp}_autoreceptor_occupancy"], g.p_nuc[m]["autoreceptor_occ0"],
                g.p_rec[f"{grp}_desensitisation_rate"])
        stress = v["stress_load"]
        drive = bdnf.monoamine_drive(g.p_bdnf, rel["5ht"], rel["ne"], rel["da"])
        d["creb"] = (bdnf.creb_target(g.p_bdnf, drive, stress) - v["creb"]) / g.p_bdnf["creb_time"]
        eef2 = bdnf.eef2_translation(g.p_bdnf, np.minimum(np.maximum(inp["nmda_occupancy"], 0.0), 1.0)) if self._use_eef2 else 0.0
        d["bdnf"] = (v["creb"] * (1.0 + eef2) - v["bdnf"]) / g.p_bdnf["protein_time"]
        T = f["trkb_signal"]
        d["bdnf_released"] = (f["bdnf_phasic"] - v["bdnf_released"]) / g.p_bdnf["release_time"]
        d["spine_synthesis"] = structural.synthesis_rate(g.p_str, v["spine_synthesis"], T, v["bdnf_released"])
        d["spines_labile"], d["spines_stable"] = structural.rates(g.p_str, v["spines_labile"], v["spines_stable"], T,
                                                                  stress, v["spine_synthesis"])
        N = tuple(v[s] for s in neurogenesis.STAGES) + (v["neurogenesis_mature"],)
        dN = neurogenesis.rates(g.p_ng, N, v["bdnf"], v["creb"], stress)
        for name, dn in zip(neurogenesis.STAGES + ("neurogenesis_mature",), dN):
            d[name] = dn
        d["ltp_early"], d["plasticity_proteins"], d["ltp_late"] = consolidation.rates(
            g.p_con, v["ltp_early"], v["plasticity_proteins"], v["ltp_late"], v["bdnf"])
        d["tag_refractory"], d["tag_recovering"] = consolidation.refractory_rates(
            g.p_con, v["tag_refractory"], v["tag_recovering"])
        rd = f["activity_dlpfc"] / g.rq
        rs = f["activity_sgacc"] / g.rq
        d["bcm_threshold"] = meta.threshold_rate(v["bcm_threshold"], rd, g.p_meta["time"])
        d["ltp_early"] = d["ltp_early"] + consolidation.bounded(
            meta.bcm_rate(rd, v["bcm_threshold"], g.p_meta["learning_rate"]), v["ltp_early"], g.p_con["early_max"])
        # the stress loop: the load is the exposure E (resolving at the natural-course rate) plus a sustained part
        # L = S - E that relaxes to what sgACC hyperactivity sustains (sgACC -> hypothalamus/amygdala drive of the
        # HPA axis): a positive feedback, through the load's own effects on sgACC, spines and BDNF, that can make
        # depression and recovery two regimes. With no feedback gain L stays 0 and the load is the exposure.
        # Life events enter through their acute response A, which passes into the exposure within weeks; the buffer D
        # (serotonin, consolidated control) damps the share that stays: dE/dt gains A / (tau_A (1 + D)), the rest of
        # A resolves.
        acute = v["stress_acute"] / g.p_stress["acute_time"]
        d["stress_acute"] = -acute
        d["stress_exposure"] = (-v["stress_exposure"] * v["episode_rate"] / g.p_stress["episode_time"]
                                + acute / (1.0 + f["stress_buffer"]))
        sustained = stress - v["stress_exposure"]
        d["stress_load"] = d["stress_exposure"] + (stress_feedback(g.p_stress, rs) - sustained) / g.p_stress["loop_time"]
        d["sgacc_scaling"] = homeostatic.scaling_rate(v["sgacc_scaling"], rs, g.p_hom["time"], g.p_hom["sgacc_scaling"])
        d["threshold_dlpfc"] = excitability.threshold_rate(v["threshold_dlpfc"], rd, g.p_ie["time"], g.p_ie["strength"])
        d["threshold_sgacc"] = excitability.threshold_rate(v["threshold_sgacc"], rs, g.p_ie["time"], g.p_ie["strength"])
        x = sev.monoamine_index(g.p_mono, rel["5ht"], rel["ne"], rel["da"])
        d["monoamine_index"] = (x - v["monoamine_index"]) / g.p_mono["lag"]
        # expectancy: the reinforced cue extinguishes; the expectation builds up towards it (one pair of constants)
        d["expectancy_cue"] = -v["expectancy_cue"] / g.p_exp["extinction_time"]
        d["expectancy"] = (v["expectancy_cue"] - v["expectancy"]) / g.p_exp["build_time"]
        d["expectancy_surprise"] = -v["expectancy_surprise"] / g.p_exp["surprise_time"]
        # mood is slow state: it follows the severity its circuit (or its monoamines) implies
        d["mood"] = (f["severity"] - v["mood"]) / g.p_mood["time"]
        d["mood_integral"] = v["mood"] / DAY
        return dy * self._mask

    def linear_decay(self) -> np.ndarray:
        """Rates lam (1/s) of the exact ``-y/tau`` terms in :meth:`rhs` (0 where there is none), shape (n_states,).

        For the engine's exponential integrator, which integrates ``-lam * y`` exactly: the fast decays (hours) that
        would otherwise limit the step, and the relaxations whose target does not depend on the variable itself.
        Keep in step with :meth:`rhs` (tests/test_engine.py checks that the remainder has no such self-term).
        """
        lam = np.zeros(len(self.layout))
        i = self.layout.index
        lam[i["bdnf"]] = 1.0 / self.p_bdnf["protein_time"]
        lam[i["ltp_early"]] = 1.0 / self.p_con["early_time"]
        lam[i["tag_refractory"]] = 1.0 / self.p_con["refractory_time"]
        lam[i["tag_recovering"]] = 1.0 / self.p_con["refractory_time"]
        lam[i["plasticity_proteins"]] = 1.0 / self.p_con["protein_time"]
        lam[i["creb"]] = 1.0 / self.p_bdnf["creb_time"]
        lam[i["spine_synthesis"]] = 1.0 / self.p_str["synthesis_time"]
        lam[i["bcm_threshold"]] = 1.0 / self.p_meta["time"]
        lam[i["monoamine_index"]] = 1.0 / self.p_mono["lag"]
        lam[i["stress_acute"]] = 1.0 / self.p_stress["acute_time"]
        # released BDNF, mood and expectancy relax within hours, faster than the 6-h steps: their decay is integrated
        # exactly at the parameter set's value (a per-patient value of a batched fit differs from it by a small
        # remainder in rhs, which the step's error control sub-steps where it matters)
        lam[i["bdnf_released"]] = 1.0 / self.p_bdnf["release_time"]
        lam[i["mood"]] = 1.0 / self.p_mood["time"]
        lam[i["expectancy"]] = 1.0 / self.p_exp["build_time"]
        lam[i["expectancy_surprise"]] = 1.0 / self.p_exp["surprise_time"]
        return lam * self._mask

    # -- episodes (millisecond-scale sessions) -------------------------------------------------------------
    def apply_episode(self, y: np.ndarray, episode, inp: dict | None = None) -> np.ndarray:
        """Apply a session's millisecond-scale result: the early change of the stimulated synapses.

        Metaplasticity: the BCM threshold (recent activity relative to reference) scales induction, so
        potentiation is easier after low activity and harder after high activity (Bienenstock 1982). Synapses a
        recent session tagged are still refractory and take no new change (Kramar 2012); the ones this session
        tags join them (:func:`~neuroplastic.plasticity.consolidation.induce`).
        """
        if episode.kind == "experience":
            return self.experience(y, episode.payload.level, inp)
        if episode.kind == "life_event":
            return self.life_event(y, episode.payload.kick, inp)
        if any("plasticity.consolidation".startswith(f) for f in self.frozen):
            return y
        g = self.groups(inp)
        y = y.copy()
        v = self.layout.view(y)
        dw = np.asarray(episode.payload.weight_change, float)
        theta = np.maximum(v["bcm_threshold"], 0.05)
        v["ltp_early"], v["tag_refractory"] = consolidation.induce(
            g.p_con, np.where(dw > 0, dw / theta, dw * theta), v["ltp_early"], v["tag_refractory"], v["tag_recovering"])
        return y

    def life_event(self, y: np.ndarray, kick, inp: dict | None = None) -> np.ndarray:
        """A severe life event adds ``kick`` x ``brain.stress.event_load`` to the acute stress response
        (``stress_acute``, per patient), which passes into the stress exposure within weeks, damped by raised serotonin
        and by consolidated prefrontal control (docs/model.md section 14)."""
        if any("brain.stress".startswith(f) for f in self.frozen):
            return y
        g = self.groups(inp)
        y = y.copy()
        v = self.layout.view(y)
        v["stress_acute"] = v["stress_acute"] + g.p_stress["event_load"] * np.asarray(kick, float)
        return y

    def experience(self, y: np.ndarray, level, inp: dict | None = None) -> np.ndarray:
        """An administration the patient experiences reinforces the expectation of benefit towards its ``level``
        (per patient) by the fraction ``brain.expectancy.reinforcement`` of the shortfall (a Rescorla-Wagner update:
        each further administration adds less, so a course builds the belief over its first administrations and a
        single one leaves a part of it; Posternak & Zimmerman 2007, Colloca 2010). A weaker administration does not
        lower the belief (beliefs do not add or average: it extinguishes by the shared rule). What it signals beyond
        what an administration was predicted to bring is its surprise (a reward prediction error), which adds a
        phasic drive that decays within hours: the whole level at a first administration, nothing at the later ones
        of a course (the prediction is learned at the first and kept), the difference when a stronger form follows
        a weaker one."""
        if any("brain.expectancy".startswith(f) for f in self.frozen):
            return y
        g = self.groups(inp)
        y = y.copy()
        v = self.layout.view(y)
        level = np.asarray(level, float)
        v["expectancy_surprise"] = v["expectancy_surprise"] + np.maximum(level - v["expectancy_prediction"], 0.0)
        v["expectancy_prediction"] = np.maximum(v["expectancy_prediction"], level)
        shortfall = np.maximum(level - v["expectancy_cue"], 0.0)
        v["expectancy_cue"] = v["expectancy_cue"] + g.p_exp["reinforcement"] * shortfall
        return y

    # -- baseline ------------------------------------------------------------------------------------------
    def healthy_state(self, n_patients: int, inp: dict | None = None) -> np.ndarray:
        g = self.groups(inp)
        L, S = structural.healthy_split(g.p_str)
        Ns, _ = neurogenesis.healthy(g.p_ng)
        vals = {"plasticity_capacity": 1.0, "episode_rate": 1.0, "ht1a_sensitivity": 1.0, "alpha2_sensitivity": 1.0, "d2_sensitivity": 1.0, "creb": 1.0, "bdnf": 1.0,
                "spine_synthesis": 1.0, "bdnf_released": 0.0,
                "spines_labile": L, "spines_stable": S, "plasticity_proteins": 0.0, "bcm_threshold": 1.0,
                "sgacc_scaling": 1.0, "stress_load": 0.0, "stress_exposure": 0.0, "stress_acute": 0.0, "expectancy_cue": 0.0, "expectancy": 0.0,
                "expectancy_prediction": 0.0, "expectancy_surprise": 0.0, "mood_integral": 0.0}
        for name, n in zip(neurogenesis.STAGES + ("neurogenesis_mature",), Ns):
            vals[name] = n
        return self.layout.pack({k: np.full(n_patients, val) for k, val in vals.items()}, n_patients)

    def baseline(self, stress: np.ndarray, capacity: np.ndarray | None = None,
                 episode_rate: np.ndarray | None = None, values: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Untreated steady state of patients with the given traits: stress load (1 = typical MDD episode),
        plasticity capacity and natural-course speed (both 1 = typical); ``values`` holds the per-patient
        parameters (name -> (P,) SI array) of a model built with ``per_patient``."""
        stress = np.asarray(stress, float)
        cap = np.ones_like(stress) if capacity is None else np.asarray(capacity, float)
        rate = np.ones_like(stress) if episode_rate is None else np.asarray(episode_rate, float)
        pp = self.per_patient_inputs(values)
        pp_key = tuple((k, tuple(np.broadcast_to(v, stress.shape).tolist())) for k, v in pp.items())
        return _baseline(self.params, tuple(stress.tolist()), tuple(cap.tolist()), tuple(rate.tolist()), pp_key)

    def observe(self, y: np.ndarray, inp: dict) -> dict[str, np.ndarray]:
        f = self.fast(y, inp)
        f.pop("rel")
        v = self.layout.view(y)
        out = {k: f[k] for k in f}
        out["mood_target"] = out.pop("severity")  # what the circuit implies now; mood follows it
        out["severity"] = v["mood"]
        for var in self.layout.vars:
            if var.output:
                out[var.name] = v[var.name]
        out["neurogenesis_immature_total"] = sum(v[s] for s in neurogenesis.STAGES[2:])
        from ..mood.scales import expected_scores
        for k, val in expected_scores(out["severity"], self.params).items():
            out[f"{k}_expected"] = val
        return out


@lru_cache(maxsize=64)
def _baseline(params: ParameterSet, stress: tuple, capacity: tuple, episode_rate: tuple,
              per_patient: tuple = ()) -> np.ndarray:
    from ..engine import steady_state

    model = BrainModel(params, "plasticity", per_patient=tuple(k[len(PARAM_KEY):] for k, _ in per_patient))
    P = len(stress)
    inputs = model.null_inputs(P)
    inputs.update({k: np.asarray(v, float) for k, v in per_patient})
    y = model.healthy_state(P, inputs)
    v = model.layout.view(y)
    v["stress_load"] = np.asarray(stress)
    v["plasticity_capacity"] = np.asarray(capacity)
    v["episode_rate"] = np.asarray(episode_rate)
    model._mask[model.layout.index["stress_load"]] = 0.0  # the episode is held while the baseline settles
    model._mask[model.layout.index["stress_exposure"]] = 0.0
    model._mask[model.layout.index["mood_integral"]] = 0.0  # the recall integral starts at the start
    y = steady_state(model.rhs, y, inputs, model.layout.timescales, steps=600)
    f = model.fast(y, inputs)
    v = model.layout.view(y)
    v["severity_untreated"] = f["severity"]
    v["mood"] = f["severity"]  # untreated mood is at what its circuit implies
    v["mood_integral"] = 0.0
    v["stress_initial"] = v["stress_load"]
    # the exposure that, with what the settled sgACC sustains, holds the load where it is (a fixed point; 0 if the
    # loop alone would hold more)
    v["stress_exposure"] = np.maximum(v["stress_load"] - stress_feedback(model.groups(inputs).p_stress,
                                                                         f["activity_sgacc"] / model.rq), 0.0)
    y.setflags(write=False)
    return y
