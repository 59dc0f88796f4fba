"""The smallest budget at which each attack runs every one of its steps (two checks, two iterations or
generations): an sd14 smoke run's, which shows that the code runs, not what an attack achieves."""

SMOKE_BUDGETS = {
    "unlearndiffatk": {"checks": 2, "iterations": 2},
    "p4d": {"checks": 2, "iterations": 2},
    "ringabell": {"population": 4, "generations": 2, "checks": 2, "n_pairs": 2},
    "inversion": {"checks": 2, "iterations": 2, "batch": 2},
    "paraphrase": {},
    "random": {"draws": 2},
    "soft_prefix": {"checks": 2, "iterations": 2},
}
