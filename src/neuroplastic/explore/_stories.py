"""The guided stories: the demo's four stories as one-click scenarios with a caption for a patient audience."""

from __future__ import annotations

STORIES = [
    {
        "id": "pills_take_weeks",
        "title": "Why pills take weeks",
        "caption": ("An antidepressant pill reaches the brain within hours and blocks serotonin recycling within days: "
                    "the occupancy curve is flat-topped after the first week. Mood follows much later, because the "
                    "brain has to rebuild connections (BDNF, spines, new neurons) before the circuit that keeps "
                    "low mood going loosens its grip. That rebuilding takes weeks."),
        "compare_hypotheses": False,
        "yaml": """name: Escitalopram 10 mg a day for 8 weeks
duration: 8 weeks
output_every: 1 day
seed: 1
treatments:
  - {drug: escitalopram, dose: 10 mg, every: 1 day}
""",
    },
    {
        "id": "two_hypotheses",
        "title": "Two explanations, one pill",
        "caption": ("The same pill, explained two ways. If low mood were only a shortage of serotonin ('chemical "
                    "imbalance'), mood would lift within days, as soon as serotonin rises. If mood depends on the "
                    "brain slowly rewiring itself, it lifts over weeks. Clinical trials see weeks: compare the two "
                    "curves."),
        "compare_hypotheses": True,
        "yaml": """name: Escitalopram 10 mg a day, both hypotheses
duration: 8 weeks
output_every: 1 day
seed: 1
treatments:
  - {drug: escitalopram, dose: 10 mg, every: 1 day}
""",
    },
    {
        "id": "ketamine_fast",
        "title": "Ketamine's fast route",
        "caption": ("Ketamine works differently: one infusion briefly blocks NMDA receptors, which sets off a burst "
                    "of activity and a wave of BDNF and new spines within hours. Mood can lift by the next day. "
                    "Without more sessions the effect fades over one to two weeks."),
        "compare_hypotheses": False,
        "yaml": """name: One ketamine infusion (0.5 mg/kg over 40 min)
duration: 14 days
output_every: 2 hours
seed: 1
patients: {n: 1, population: trd}
treatments:
  - {drug: ketamine, dose: 0.5 mg/kg, route: iv, infusion: 40 min, at: [0 days]}
""",
    },
    {
        "id": "what_lasts",
        "title": "What lasts after stopping",
        "caption": ("Treatment stops at week 12. What the brain rebuilt during treatment does not vanish at once: "
                    "the new connections decay slowly, so mood holds for a while. This is why doctors advise "
                    "continuing for months after recovery, and why some people relapse after stopping."),
        "compare_hypotheses": False,
        "yaml": """name: Sertraline for 12 weeks, then stop; followed to week 30
duration: 30 weeks
output_every: 1 day
seed: 1
treatments:
  - {drug: sertraline, dose: 50 mg, every: 1 day, stop: 12 weeks}
""",
    },
]
