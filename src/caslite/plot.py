"""Maps of per-cell values, drawn as rasters so that national grids plot quickly."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_cells"]


def plot_cells(
    grid,
    values,
    *,
    ax=None,
    cmap="Reds",
    label="value",
    title=None,
    zero_color="0.9",
    ticks="latlon",
):
    """Draw one value per active cell of ``grid`` as a raster map.

    Inactive cells (outside the study area) stay blank; cells whose value is zero are drawn in
    ``zero_color`` so that the study area stays visible.

    Parameters
    ----------
    grid : Grid
        The grid the values belong to.
    values : array-like of shape (grid.n_cells,)
        One value per active cell.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (not registered with pyplot) is made when omitted.
    cmap : str, default "Reds"
        Matplotlib colour map of the non-zero values.
    label : str, default "value"
        Colour-bar label.
    title : str, optional
        Axes title.
    zero_color : color, default "0.9"
        Colour of active cells whose value is zero.
    ticks : {"latlon", None}, default "latlon"
        ``"latlon"``: ticks at round longitudes (bottom edge) and latitudes (left edge), as
        in :func:`caslite.maps.plot_shift`; None: no ticks.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from caslite.grid import Grid
    >>> from shapely.geometry import box
    >>> grid = Grid.from_area(box(0, 0, 1000, 500), cell_size=125, crs="EPSG:32617")
    >>> ax = plot_cells(grid, np.arange(grid.n_cells), label="incidents")
    >>> ax.get_xlabel(), ax.get_xticklabels()[0].get_text()
    ('longitude', '85.488°W')
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from caslite.maps import _latlon_ticks

    if ticks not in ("latlon", None):
        raise ValueError(f"ticks must be 'latlon' or None, got {ticks!r}.")
    values = np.asarray(values, dtype=float)
    if values.shape != (grid.n_cells,):
        raise ValueError(f"values has shape {values.shape}; expected ({grid.n_cells},).")
    if ax is None:
        ax = Figure(figsize=(7, 6), layout="constrained").add_subplot()
    n_rows, n_cols = grid.shape
    raster = np.full((n_rows, n_cols), np.nan)
    raster[grid.cell_row, grid.cell_col] = values
    xmin, ymin, xmax, ymax = grid.bounds
    extent = (xmin, xmax, ymin, ymax)
    zeros = np.where(raster == 0, 1.0, np.nan)
    ax.imshow(zeros, origin="lower", extent=extent, cmap=ListedColormap([zero_color]))
    image = ax.imshow(
        np.where(raster > 0, raster, np.nan),
        origin="lower",
        extent=extent,
        cmap=cmap,
        vmin=0.0,
        interpolation="nearest",
    )
    ax.figure.colorbar(image, ax=ax, label=label, shrink=0.8)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    if ticks == "latlon":
        _latlon_ticks(ax, grid)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
