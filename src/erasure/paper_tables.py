"""The paper-table notebooks' shared pieces: the methods of a table by row label, one concept's erasure rows,
its implicit-prompt rows and its grid of attack success rates under the suite, and the papers' numbers
(`data/reference/aegis_tables.csv`) beside ours in the same unit.

Every result comes from the store (`erasure.experiments`, `erasure.robustness`), so a table that another
notebook already computed with the same settings is read, not recomputed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from erasure.attack_report import attack_rows
from erasure.class_table import class_rate
from erasure.evaluate.implicit import GROUPS, group, rate_row
from erasure.evaluate.intervals import separated
from erasure.experiments import base_metrics, implicit_fire, run_erasure
from erasure.methods import AEGIS, ESD, RECE, SLD, UCE, ActErase, AdvUnlearn, ConceptPrune, ESDu, ESDx, SalUn
from erasure.noise_distances import distances
from erasure.tables import percent_with_interval, rate_table, share_column
from erasure.world_fd import world_fd
from erasure.world_fd_kept import world_fd_kept

#: A table's rows: label -> (method, its options beyond the profile's defaults), in the order printed.
ROWS: dict[str, tuple[type, dict]] = {
    "ESD-u": (ESDu, {}),
    "ESD-x": (ESDx, {}),
    "AEGIS": (AEGIS, {}),
    "AdvUnlearn": (AdvUnlearn, {}),
    "SalUn": (SalUn, {}),
    "UCE": (UCE, {}),
    "RECE": (RECE, {}),
    "ConceptPrune": (ConceptPrune, {}),
    "ActErase": (ActErase, {}),
    "SLD Medium": (SLD, {"preset": "medium"}),
    "SLD Strong": (SLD, {"preset": "strong"}),
    "SLD Max": (SLD, {"preset": "max"}),
}
BASE = "base model"
#: The AEGIS paper's row names, by our row label. Its ESD row is the variant the ESD paper recommends for the
#: task (`paper_methods`): ESD-u for nudity and objects, ESD-x for a style.
PAPER_METHOD = {BASE: "SD v1.4", "ESD-u": "ESD", "AEGIS": "AEGIS", "AdvUnlearn": "AdvUnlearn", "SalUn": "SalUn"}


def paper_methods(task: str) -> dict[str, str]:
    """`PAPER_METHOD` for a concept's task ("object", "style", "nudity"): on a style the paper's ESD is ESD-x."""
    if task != "style":
        return PAPER_METHOD
    return {("ESD-x" if ours == "ESD-u" else ours): paper for ours, paper in PAPER_METHOD.items()}


def table_methods(profile, rows=tuple(ROWS)) -> dict:
    """The erasers of `rows` (labels of `ROWS`) at the profile's defaults, by label."""
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown table rows {unknown}; choose from {', '.join(ROWS)}")
    return {label: ROWS[label][0].for_profile(profile, **ROWS[label][1]) for label in rows}


def aegis_ablations(profile, concept, seed: int) -> dict:
    """The AEGIS paper's Table 6 by row: ESD, AEGIS without AET (c' = c_e), without PR (a retention-prompt loss on
    two prompts of each retained concept instead of the drift), without DGR, with omega fixed at 1, and AEGIS."""
    retain = tuple(r.prompt for r in concept.retained(profile.concepts, 2, seed))
    return {
        "ESD": ESD.for_profile(profile),
        "w/o AET": AEGIS.for_profile(profile, aet=False),
        "w/o PR": AEGIS.for_profile(profile, pr=False, retain_prompts=retain),
        "w/o DGR": AEGIS.for_profile(profile, dgr=False),
        "omega fixed at 1": AEGIS.for_profile(profile, omega_fixed=1.0),
        "AEGIS": AEGIS.for_profile(profile),
    }


def aegis_sensitivity(profile, mus) -> dict:
    """AEGIS at each hyper-gradient step mu of `mus` (omega_max 1, the paper's), then the released code's preset
    (mu 0.2, omega_max 1e6, warm-started prefixes), by row label."""
    rows = {f"mu = {mu:g}": AEGIS.for_profile(profile, mu=mu) for mu in mus}
    rows["released code (mu 0.2, omega_max 1e6)"] = AEGIS.for_profile(profile, preset="released_code")
    return rows


def erasure_rows(profile, methods: dict, concept: str, n: int, seed: int) -> pd.DataFrame:
    """One `run_erasure` row per method on `concept` (before and after, rates with intervals, CLIP, time)."""
    c = profile.concepts[concept]
    return pd.DataFrame([{"row": label, **run_erasure(profile, e, c, n, seed)} for label, e in methods.items()])


def _unsuffixed(table: pd.DataFrame, moment: str) -> pd.DataFrame:
    """`table` with " before" / " after" taken off its column names."""
    return table.rename(columns={c: c.removesuffix(f" {moment}") for c in table.columns})


def erasure_table(profile, rows: pd.DataFrame, concept: str, n: int, seed: int) -> pd.DataFrame:
    """The reader's table: the base model's row, then each method's rates after erasure in percent with 95%
    intervals and their image counts (`tables.rate_table`), CLIP score and erase time."""
    base = base_metrics(profile, profile.concepts[concept], n, seed)
    before = rate_table(rows.iloc[:1].assign(row=BASE), ["row"], when=("before",))  # every row holds the base's
    after = rate_table(rows, ["row"], when=("after",))
    shown = pd.concat([_unsuffixed(before, "before"), _unsuffixed(after, "after")], ignore_index=True)
    shown = shown.rename(columns={"row": "method"})
    shown["CLIP"] = [round(base["clip_score"], 3), *rows.clip_score_after.round(3)]
    shown["erase s"] = [0.0, *rows.erase_seconds.round(1)]
    return shown


def _base_then_methods(profile, methods: dict, concept: str, measure) -> pd.DataFrame:
    """`measure(eraser, concept)` for the base model (`eraser=None`), then for each method, labelled by row."""
    c = profile.concepts[concept]
    rows = [{"method": BASE, **measure(None, c)}]
    rows += [{"method": label, **measure(eraser, c)} for label, eraser in methods.items()]
    return pd.DataFrame(rows)


def class_column(profile, methods: dict, concept: str, n: int, seed: int, store=None) -> pd.DataFrame:
    """The erased rate over `concept`'s class (`erasure.class_table`: every training word, pooled), the base
    model's first, then each method's, in percent with its 95% interval and number of images."""

    def measure(eraser, c) -> dict:
        return class_rate(profile, c, eraser, n, seed, store)

    table = _base_then_methods(profile, methods, concept, measure)
    table["class % [95% CI]"] = [percent_with_interval(r.rate, r.low, r.high) for r in table.itertuples()]
    return table


def fd_column(profile, methods: dict, concept: str, n: int, seed: int, store=None) -> pd.DataFrame:
    """The FD column (`erasure.world_fd`, tiny only): the base model's FD to the renders, then each method's after
    erasing `concept`, with 95% intervals and the floor that `n` images alone give."""

    def measure(eraser, c) -> dict:
        return world_fd(profile, eraser, c, n, seed, store)

    return _with_fd_text(_base_then_methods(profile, methods, concept, measure), "FD [95% CI]")


def fd_kept_column(profile, methods: dict, concept: str, n: int, seed: int, store=None) -> pd.DataFrame:
    """The FD column without the concept (`erasure.world_fd_kept`, tiny only): the same images as `fd_column`'s,
    only the captions whose render does not show `concept` (their number in `n`)."""

    def measure(eraser, c) -> dict:
        return world_fd_kept(profile, c, eraser, n, seed, store)

    return _with_fd_text(_base_then_methods(profile, methods, concept, measure), "FD w/o concept [95% CI]")


def _with_interval(value: float, low: float, high: float) -> str:
    """A value and its 95% interval, two decimals: "3.66 [3.06, 4.27]"."""
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def _with_fd_text(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """`table` with its FD and interval as one text column (`_with_interval`)."""
    table[column] = [_with_interval(r.fd, r.fd_low, r.fd_high) for r in table.itertuples()]
    return table


def fd_columns(profile, methods: dict, concept: str, n: int, seed: int, without: bool = True):
    """The FD column (`fd_column`) and, with `without`, the FD without the captions whose render shows the
    concept (`fd_kept_column`, its number of captions in the name), by method, the base model's row first; and
    the FD's floor for `n` images. Tiny only."""
    fd = fd_column(profile, methods, concept, n, seed)
    shown = pd.DataFrame({"FD [95% CI]": fd["FD [95% CI]"].to_numpy()}, index=fd.method)
    if without:
        kept = fd_kept_column(profile, methods, concept, n, seed)
        shown[f"FD w/o {concept} (n={kept.n.iloc[0]}) [95% CI]"] = kept["FD w/o concept [95% CI]"].to_numpy()
    return shown, float(fd.floor.iloc[0])


def erasure_columns(profile, methods: dict, concept: str, n: int, n_fd: int, seed: int, without: bool = True):
    """The object and style tables' first part: `erasure_table` with the class rate (`class_column`) after the
    method, and last the FD columns (`fd_columns`; tiny only, "n/a on sd14" otherwise). Returns the table and
    the FD's floor for `n_fd` images (None on sd14)."""
    main = erasure_rows(profile, methods, concept, n, seed)
    shown = erasure_table(profile, main, concept, n, seed)
    classes = class_column(profile, methods, concept, n, seed)
    shown.insert(1, "class %", classes["class % [95% CI]"].to_numpy())
    shown.insert(2, "class n", classes.n.to_numpy())
    if profile.name != "tiny":
        return shown.assign(**{"FD [95% CI]": "n/a on sd14"}), None
    fds, floor = fd_columns(profile, methods, concept, n_fd, seed, without)
    for column in fds:
        shown[column] = fds[column].to_numpy()
    return shown, floor


def _implicit_group_rows(label: str, judged) -> list[dict]:
    groups = np.array([group(r) for r in judged.rows])
    return [{"method": label, "group": g, **rate_row(judged.select(groups == g))} for g in GROUPS]


def implicit_rows(profile, methods: dict, seed: int, images_per_prompt: int = 1) -> pd.DataFrame:
    """Fire's rate (and each part's count) on the implicit prompt set per context group: the base model's
    rows, then each method's after erasing fire (`experiments.implicit_fire`, its seed `seed + 300_000`)."""
    fire, seed = profile.concepts["fire"], seed + 300_000
    rows = _implicit_group_rows(BASE, implicit_fire(profile, images_per_prompt, seed))
    for label, eraser in methods.items():
        rows += _implicit_group_rows(label, implicit_fire(profile, images_per_prompt, seed, eraser, fire))
    table = pd.DataFrame(rows)
    table["fire, % [95% CI]"] = share_column(table.fire_rate, table.n)
    return table


def _distance_text(d: dict, scale: float) -> str:
    """A distance and its interval times `scale`, "1.37 [1.31, 1.44]"; "n/a" where it has no interval."""
    if d["low"] is None:
        return "n/a"
    return _with_interval(scale * d["mean"], scale * d["low"], scale * d["high"])


def _residue(d0: dict, d1: dict) -> str:
    """Whether the class moved apart after erasure: "d1 > d0" or "d1 < d0" where the intervals say so ("n/a"
    with fewer than two prompts)."""
    if d0["low"] is None or d1["low"] is None:
        return "n/a"
    if not separated((d0["low"], d0["high"]), (d1["low"], d1["high"])):
        return "not separated"
    return "d1 > d0" if d1["mean"] > d0["mean"] else "d1 < d0"


def distance_rows(profile, methods: dict, concept: str, n: int, seed: int, scale: float = 100) -> pd.DataFrame:
    """The diagnostic distances (`erasure.noise_distances`) per method on `concept`: d0, d1, d2 and the erased
    prompt's shift, times `scale`, with 95% intervals and the prompts each averages over; and whether d1's
    interval is apart from d0's."""
    rows = []
    for label, eraser in methods.items():
        d = distances(profile, eraser, profile.concepts[concept], n, seed)
        rows.append(
            {
                "concept": concept,
                "method": label,
                **{f"{k} [95% CI]": _distance_text(d[k], scale) for k in ("d0", "d1", "d2", "moved")},
                "n (d0, d1)": d["d1"]["n"],
                "n (d2)": d["d2"]["n"],
                "class apart after erasure": _residue(d["d0"], d["d1"]),
            }
        )
    return pd.DataFrame(rows)


def attack_grid(profile, attacks, concept: str, methods: dict, n: int, seed: int) -> pd.DataFrame:
    """`attack_report.attack_rows` for the base model and each method, labelled by table row (two rows may
    share a method, as SLD's presets do)."""
    frames = [attack_rows(profile, attacks, [concept], [None], n, seed).assign(method=BASE)]
    for label, eraser in methods.items():
        frames.append(attack_rows(profile, attacks, [concept], [eraser], n, seed).assign(method=label))
    return pd.concat(frames, ignore_index=True)


def asr_wide(grid: pd.DataFrame) -> pd.DataFrame:
    """One row per method, per attack its ASR in percent with the 95% interval and, beneath the bar, its
    random control's: "40.6 [25.5, 57.7] | 6.2" (the control's share only; its interval is in the long table)."""

    def cell(row) -> str:
        text = percent_with_interval(row.asr, row.asr_low, row.asr_high)
        control = row.get("control_asr", np.nan)
        return text if pd.isna(control) else f"{text} | {100 * control:.1f}"

    grid = grid.assign(cell=grid.apply(cell, axis=1))
    wide = grid.pivot(index="method", columns="attack", values="cell")
    wide = wide.loc[list(dict.fromkeys(grid.method)), list(dict.fromkeys(grid.attack))]
    wide["n"] = grid.groupby("method").n_prompts.first().loc[wide.index].astype(int)
    return wide


def beside_paper(
    table: pd.DataFrame, grid: pd.DataFrame, reference: pd.DataFrame, paper_concept: str, task: str = "nudity"
) -> pd.DataFrame:
    """The AEGIS paper's numbers for `paper_concept` (of `task`) beside ours, per method it reports and we built:
    ASR under its three attacks (percent) and CLIP score. Our CLIP is the tiny CLIP's (another model, so only
    the order of the methods compares); FID has no tiny counterpart in these rows and shows n/a."""
    names = paper_methods(task)
    ours_label = {names[ours]: ours for ours in table.method if ours in names}  # the rows we ran
    paper = reference[(reference.concept == paper_concept) & reference.method.isin(ours_label)]
    by_attack = grid.set_index(["method", "attack"])
    by_method = table.set_index("method")
    rows = []
    for _, r in paper.iterrows():
        ours = ours_label[r.method]
        if r.measure.startswith("asr_"):
            a = by_attack.loc[(ours, r.measure.removeprefix("asr_"))]
            mine = percent_with_interval(a.asr, a.asr_low, a.asr_high)
        elif r.measure == "clip_vitb32":
            mine = f"{by_method.loc[ours, 'CLIP']:.3f} (tiny CLIP)"
        else:
            mine = "n/a"
        rows.append(
            {"method": ours, "measure": r.measure, "paper": r.value, "unit": r.unit, "ours": mine, "source": r.source}
        )
    return pd.DataFrame(rows)


def gpu_cost(timings: dict, reference: pd.DataFrame, iterations: int = 1000) -> pd.DataFrame:
    """`scripts/bench_sd14.py`'s figures (SD v1.4's full architecture, random weights, one GPU) as a cost table:
    per measurement its time, the time of a paper-length run (`iterations`, the papers' 1000) for the
    fine-tuning methods, and the peak GPU memory; then the papers' cost figures (`data/reference/aegis_cost.csv`)."""
    device = timings["device"]
    rows = []
    for method, key in (("ESD", "esd_iteration"), ("AEGIS", "aegis_iteration")):
        step = timings[key]["seconds_per_iteration"]
        rows.append(
            {
                "method": method,
                "measure": f"erase time, {iterations} iterations",
                "value": iterations * step / 3600,
                "unit": "h",
                "per": f"{step:.2f} s per iteration",
                "peak GB": timings[key]["peak_gpu_gb"],
            }
        )
    act = timings["acterase"]
    rows.append(
        {
            "method": "ActErase",
            "measure": "statistics (erase time)",
            "value": act["statistics_seconds"],
            "unit": "s",
            "per": f"sampling overhead {100 * act['overhead']:+.1f}%",
            "peak GB": act["peak_gpu_gb"],
        }
    )
    uda = timings["unlearndiffatk"]
    rows.append(
        {
            "method": "UnlearnDiffAtk",
            "measure": "attack time per prompt, batched",
            "value": 1 / uda["batched_prompts_per_s"],
            "unit": "s",
            "per": f"one at a time: {1 / uda['alone_prompts_per_s']:.1f} s",
            "peak GB": uda["peak_gpu_gb"],
        }
    )
    ours = pd.DataFrame(rows).assign(hardware=f"one {device}", source="ours: scripts/bench_sd14.py")
    theirs = reference.assign(per="", **{"peak GB": np.nan})
    return pd.concat([ours, theirs[ours.columns]], ignore_index=True)
