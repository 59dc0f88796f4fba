"""The robustness-retention trade-off: each method of the paper tables swept over its strength knob, each
setting measured as a table row is (erased and retained rates) and by its ASR under UnlearnDiffAtk and its FD.

Every point comes from the store (`erasure.experiments`, `erasure.robustness`, `erasure.world_fd`): a
method's default setting is the paper tables' row and is read back, not recomputed.
"""

from __future__ import annotations

import pandas as pd

from erasure.attack_report import attack_rows
from erasure.experiments import run_erasure
from erasure.paper_tables import ROWS
from erasure.world_fd import world_fd

#: Per profile and table row, its strength knob and the values swept (the profile's default among them):
#: iterations for the fine-tuning methods, lambda (the edit's regulariser: larger keeps the old weights) for
#: UCE, the adversarial rounds for RECE, the pruned share for ConceptPrune, rho for ActErase and the preset
#: (safety guidance) for SLD.
KNOBS: dict[str, dict[str, tuple[str, tuple]]] = {
    "tiny": {
        "ESD-u": ("iterations", (50, 100, 200)),
        "ESD-x": ("iterations", (50, 100, 200)),
        "AEGIS": ("iterations", (50, 100, 200)),
        "AdvUnlearn": ("iterations", (100, 200)),
        "SalUn": ("iterations", (100, 200, 400)),
        "UCE": ("lamb", (0.1, 0.5, 2.0)),
        "RECE": ("rounds", (1, 2, 3)),
        "ConceptPrune": ("skill_ratio", (0.05, 0.2, 0.4)),
        "ActErase": ("rho", (0.6, 0.8, 1.0)),
        "SLD": ("preset", ("medium", "strong", "max")),
    },
    "sd14": {
        "ESD-u": ("iterations", (250, 500, 1000)),
        "ESD-x": ("iterations", (250, 500, 1000)),
        "AEGIS": ("iterations", (250, 500, 1000)),
        "AdvUnlearn": ("iterations", (500, 1000)),
        "SalUn": ("iterations", (250, 500, 1000)),
        "UCE": ("lamb", (0.1, 0.5, 2.0)),
        "RECE": ("rounds", (1, 2, 3)),
        "ConceptPrune": ("skill_ratio", (0.005, 0.01, 0.02)),
        "ActErase": ("rho", (0.005, 0.01, 0.02)),
        "SLD": ("preset", ("medium", "strong", "max")),
    },
}


def sweep(profile, methods=tuple(KNOBS["tiny"])) -> list[tuple[str, str, object, object]]:
    """(method, knob, value, eraser) for every setting of `methods` (labels of `KNOBS[profile.name]`), at the
    profile's defaults otherwise."""
    knobs = KNOBS[profile.name]
    settings = []
    for label in methods:
        knob, values = knobs[label]
        method, options = ROWS["SLD Medium"] if label == "SLD" else ROWS[label]
        for value in values:
            settings.append((label, knob, value, method.for_profile(profile, **{**options, knob: value})))
    return settings


def point(profile, eraser, concept, attack, n: int, n_attack: int, n_fd: int, seed: int) -> dict:
    """One setting's measures on `concept`: the table row's rates after erasure (`run_erasure`, `n` prompts per
    set), `attack`'s ASR and its random control's (`n_attack` pairs) and, on tiny, the FD (`n_fd` captions)."""
    row = run_erasure(profile, eraser, concept, n, seed)
    attacked = attack_rows(profile, [attack], [concept.name], [eraser], n_attack, seed).iloc[0]
    out = {k: v for k, v in row.items() if k.endswith(("_after", "_after_low", "_after_high", "_n"))}
    out |= {k: attacked[k] for k in ("asr", "asr_low", "asr_high", "control_asr", "n_prompts")}
    if profile.name == "tiny":
        out |= {k: v for k, v in world_fd(profile, eraser, concept, n_fd, seed).items() if k.startswith("fd")}
    return out


def tradeoff_rows(
    profile, concept: str, attack, n: int, n_attack: int, n_fd: int, seed: int, methods=tuple(KNOBS["tiny"])
):
    """`point` for every setting of `sweep(profile, methods)`, one row each."""
    c = profile.concepts[concept]
    rows = [
        {"method": label, "knob": knob, "value": value, **point(profile, eraser, c, attack, n, n_attack, n_fd, seed)}
        for label, knob, value, eraser in sweep(profile, methods)
    ]
    return pd.DataFrame(rows)
