"""The figure style and the plots the notebooks share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def set_style() -> None:
    """One look for every figure of the artifact."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titlesize": "medium"})


def image_grid(images: np.ndarray, ncols: int | None = None, scale: int = 3, pad: int = 2) -> Image.Image:
    """uint8 images (N, H, W, 3) tiled into one PIL image (nearest-neighbour upscaled by `scale`)."""
    n, h, w, _ = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    canvas = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    pil = Image.fromarray(canvas)
    return pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)


def confusion_heatmap(ax, truth: np.ndarray, pred: np.ndarray, classes: tuple[str, ...], title: str = "") -> None:
    """Row-normalised confusion matrix (rows: asked for, columns: judged)."""
    import seaborn as sns

    k = len(classes)
    counts = np.zeros((k, k))
    np.add.at(counts, (truth, pred), 1)
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    sns.heatmap(
        share,
        ax=ax,
        annot=True,
        fmt=".2f",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=False,
        xticklabels=classes,
        yticklabels=classes,
        annot_kws={"size": 7},
    )
    ax.tick_params(axis="y", labelrotation=0, labelsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_xlabel("judged")
    ax.set_ylabel("prompted")
    ax.set_title(title)


def labelled_rows(rows: dict[str, np.ndarray], title: str = "", row_height: float = 0.55):
    """One row of images per label (e.g. per concept), the label on the left; returns the figure."""
    fig, axes = plt.subplots(
        len(rows),
        1,
        figsize=(1.0 + row_height * max(len(v) for v in rows.values()), row_height * len(rows) + 0.4),
        squeeze=False,
    )
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        ax.imshow(image_grid(images, ncols=len(images), scale=1))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for side in ax.spines.values():
            side.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tradeoff(ax, table, x: str, y: str, label: str, by: str | None = "concept", style: str = "o-") -> None:
    """Erasure against retention: one line per `by` group of `table` (points only with `by=None`), each
    point annotated with its `label` column (e.g. rho) in the line's colour; points of a group that coincide
    (to 0.01 points: pooled means differ in their last bits) share one label ("0.6/0.7"), and each group's
    labels sit a little higher than the last's."""
    for k, (name, part) in enumerate(table.groupby(by, sort=False) if by else [(None, table)]):
        (line,) = ax.plot(part[x], part[y], style, label=name)
        for (px, py), same in part.groupby([part[x].round(2), part[y].round(2)], sort=False):
            text = "/".join(f"{v}" for v in same[label])
            offset = (3, 2 + 8 * k)
            ax.annotate(text, (px, py), fontsize=7, color=line.get_color(), xytext=offset, textcoords="offset points")


def asr_by_method(grid, attacks, n: int):
    """The paper tables' attack figure: one panel per (concept, attack) of `grid` (`paper_tables.attack_grid`
    rows with a `concept` column), each method's ASR in percent with its 95% interval and, where the attack
    has one, its random control's; returns the figure."""
    concepts = list(dict.fromkeys(grid.concept))
    labels = list(dict.fromkeys(grid.method))
    fig, axes = plt.subplots(
        len(concepts),
        len(attacks),
        figsize=(2.6 * len(attacks), (0.32 * len(labels) + 1.2) * len(concepts)),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(labels))[::-1]
    for r, name in enumerate(concepts):
        for ax, attack in zip(axes[r], attacks, strict=True):
            cell = grid[(grid.concept == name) & (grid.attack == attack.name)].set_index("method").loc[labels]
            error = 100 * np.abs(cell[["asr_low", "asr_high"]].to_numpy().T - cell.asr.to_numpy())
            ax.errorbar(100 * cell.asr, y, xerr=error, fmt="o", color="C0", capsize=2, label="attack")
            if "control_asr" in cell and cell.control_asr.notna().any():
                ax.plot(100 * cell.control_asr, y, "x", color="C3", label="random control")
            ax.set(title=f"{name}: {attack.name}", xlim=(-5, 105), xlabel="ASR %")
        axes[r, 0].set_yticks(y, labels)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", ncol=2, fontsize=8, frameon=False)  # above the panels, on none
    fig.suptitle(f"attack success rate per method ({n} prompts per cell, 95% intervals)", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.1 / fig.get_figheight()))
    return fig


def interval_curves(
    ax, table, x: str, y: str, scale: tuple[float, float] = (1, 1), by: str = "method", label: str = "value"
) -> None:
    """One line per `by` group of `table`, `y` against `x` with both 95% intervals drawn (from the columns
    `{x}_low`, `{x}_high`, `{y}_low`, `{y}_high`), each point annotated with its `label` (e.g. the knob's value);
    `scale` multiplies x and y (100 for percent)."""
    for name, part in table.groupby(by, sort=False):
        px, py = scale[0] * part[x], scale[1] * part[y]
        xerr = np.abs(scale[0] * part[[f"{x}_low", f"{x}_high"]].to_numpy().T - px.to_numpy())
        yerr = np.abs(scale[1] * part[[f"{y}_low", f"{y}_high"]].to_numpy().T - py.to_numpy())
        line = ax.errorbar(px, py, xerr=xerr, yerr=yerr, fmt="o-", capsize=2, lw=1, ms=4, elinewidth=0.6, label=name)
        for vx, vy, text in zip(px, py, part[label], strict=True):
            ax.annotate(
                f"{text}", (vx, vy), fontsize=6, color=line[0].get_color(), xytext=(3, 3), textcoords="offset points"
            )
