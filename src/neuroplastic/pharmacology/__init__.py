"""Pharmacology: what a drug physically does.

dose events -> plasma concentrations (parents and active metabolites) -> transporter and receptor occupancy.
Nothing here knows about mood or plasticity.
"""

from ._drugs import DRUGS, DrugInfo, drug_info, drug_names
from ._pk import PKSystem, build_pk_system
from ._pd import TARGETS, occupancy

__all__ = ["DRUGS", "DrugInfo", "drug_info", "drug_names", "PKSystem", "build_pk_system", "TARGETS", "occupancy"]
