"""Virtual populations: patients sampled from documented distributions, one random stream per patient.

Each patient's traits are a pure function of (seed, patient index, stream) (counter-based, see
``neuroplastic._random``), so a patient is the same whatever chunk or worker simulates it.
"""

from ._sample import POPULATIONS, sample_patients, traits_from_uniforms, typical_patient

__all__ = ["POPULATIONS", "sample_patients", "traits_from_uniforms", "typical_patient"]
