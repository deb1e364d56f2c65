"""Plasticity, several kinds and speeds, each its own module.

receptors (autoreceptor desensitisation), bdnf (CREB transcription, eEF2 translation, release), structural (spine
formation, stabilisation, pruning), neurogenesis (staged dentate population), synaptic (calcium-based rule),
consolidation (early -> late), meta (sliding threshold), homeostatic (synaptic scaling), excitability (intrinsic).
"""
