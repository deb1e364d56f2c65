"""Units and long names of every output variable (one place)."""

from ..brain.model import BrainModel

_SI_TO_NM = 1e6  # mol/m^3 -> nM

OUTPUTS = {
    # name: (unit, long_name, factor from model value)
    "sert_occupancy": ("1", "serotonin transporter (SERT) occupancy", 1.0),
    "net_occupancy": ("1", "norepinephrine transporter (NET) occupancy", 1.0),
    "dat_occupancy": ("1", "dopamine transporter (DAT) occupancy", 1.0),
    "nmda_occupancy": ("1", "NMDA receptor occupancy (channel block)", 1.0),
    "raphe_firing": ("Hz", "dorsal raphe 5-HT neuron firing rate", 1.0),
    "lc_firing": ("Hz", "locus coeruleus NE neuron firing rate", 1.0),
    "vta_firing": ("Hz", "VTA dopamine neuron firing rate", 1.0),
    "synaptic_5ht": ("nM", "extracellular (synaptic) serotonin in projection areas", _SI_TO_NM),
    "synaptic_ne": ("nM", "extracellular (synaptic) norepinephrine in projection areas", _SI_TO_NM),
    "synaptic_da": ("nM", "extracellular (synaptic) dopamine in projection areas", _SI_TO_NM),
    "raphe_autoreceptor_occupancy": ("1", "5-HT1A autoreceptor occupancy (dorsal raphe)", 1.0),
    "lc_autoreceptor_occupancy": ("1", "alpha2 autoreceptor occupancy (locus coeruleus)", 1.0),
    "vta_autoreceptor_occupancy": ("1", "D2 autoreceptor occupancy (VTA)", 1.0),
    "glutamate_burst": ("1", "prefrontal glutamate burst from interneuron disinhibition (0-1)", 1.0),
    "trkb_signal": ("1", "TrkB signalling from released BDNF (relative to healthy)", 1.0),
    "bdnf_phasic": ("1", "BDNF released by dlPFC firing above its recent mean (relative to healthy tonic signal)", 1.0),
    "activity_dlpfc": ("Hz", "dlPFC population rate", 1.0),
    "activity_sgacc": ("Hz", "subgenual ACC (Cg25) population rate", 1.0),
    "activity_hippocampus": ("Hz", "hippocampus / dentate gyrus population rate", 1.0),
    "activity_reward": ("Hz", "reward node (ventral striatum) population rate", 1.0),
    "spine_density": ("1", "prefrontal synapse (spine) density relative to healthy", 1.0),
    "control_efficacy": ("1", "dlPFC->sgACC control efficacy (density x synaptic strength)", 1.0),
    "neurogenesis_immature_total": ("1", "immature adult-born dentate neurons (relative to healthy)", 1.0),
    "severity": ("1", "latent depressive mood: severity 0 none, 1 maximal (slow state following mood_target)", 1.0),
    "mood_target": ("1", "severity the circuit (or, under the monoamine hypothesis, the monoamines) implies now", 1.0),
    "severity_circuit": ("1", "severity read from the circuit (plasticity account)", 1.0),
    "hamd17": ("1", "HAM-D17 score as rated (with rater noise)", 1.0),
    "madrs": ("1", "MADRS score as rated (with rater noise)", 1.0),
    "qids_sr16": ("1", "QIDS-SR16 score as self-rated (with noise)", 1.0),
    "hamd17_expected": ("1", "expected HAM-D17 score of the current mood (noise-free)", 1.0),
    "madrs_expected": ("1", "expected MADRS score of the current mood (noise-free)", 1.0),
    "qids_sr16_expected": ("1", "expected QIDS-SR16 score of the current mood (noise-free)", 1.0),
    "hamd17_recalled": ("1", "HAM-D17 rating without rater noise: the score of mood over the recall window", 1.0),
    "madrs_recalled": ("1", "MADRS rating without rater noise: the score of mood over the recall window", 1.0),
    "qids_sr16_recalled": ("1", "QIDS-SR16 rating without rater noise: the score of mood over the recall window", 1.0),
}
for _v in BrainModel.layout.vars:
    if _v.output:
        OUTPUTS.setdefault(_v.name, (_v.unit, _v.long_name, 1.0))
