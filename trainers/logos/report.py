"""Pictures of the logo pipeline: sample grids and the tuned-vs-baseline chart."""

from __future__ import annotations

import numpy as np


def save_grid(images: np.ndarray, path: str, columns: int = 8) -> str:
    """Saves up to 64 images [n, S, S, 3] in [0, 1] as one PNG grid."""
    from PIL import Image

    images = images[: columns * columns]
    rows = -(-len(images) // columns)
    size = images.shape[1]
    grid = np.ones((rows * size, columns * size, 3), np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * size:(r + 1) * size, c * size:(c + 1) * size] = image
    Image.fromarray((np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def plot_comparison(figures: dict[str, dict[str, float]], path: str) -> str:
    """Bar charts of held-out top-1/top-5, parameters and latency per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(figures)
    panels = [("heldout_top1", "held-out top-1"), ("heldout_top5", "held-out top-5"),
              ("parameters", "parameters"), ("latency_ms_batch1", "latency, batch 1 (ms)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.2))
    for ax, (key, title) in zip(axes, panels):
        ax.bar(names, [figures[n][key] for n in names], color=["tab:blue", "tab:gray"])
        ax.set_title(title)
        if key.startswith("heldout"):
            ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
