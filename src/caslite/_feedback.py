"""Feedback loops of a hot-spot forecaster and its patrols, simulated (private).

:func:`simulate_feedback` (public as ``caslite.simulate_feedback`` and
``caslite.audits.simulate_feedback``) follows Ensign et al. (2018): patrols sent by the
forecast find incidents that feed the next forecast. :class:`FeedbackResult` holds what it
recorded, round by round, with the measures of how fast the flags lock onto the cells
patrolled first.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from caslite._inequality import gini
from caslite._validation import check_int, check_share

__all__ = ["FeedbackResult", "simulate_feedback"]

_MITIGATIONS = (None, "exclude_discovered", "downweight")


def _tvd(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total variation distance between rows of distributions ``p`` and a distribution ``q``."""
    return 0.5 * np.abs(p - q).sum(axis=-1)


@dataclass(frozen=True, eq=False)
class FeedbackResult:
    """What :func:`simulate_feedback` recorded, round by round.

    Attributes
    ----------
    true_rate : ndarray of float, shape (n_cells,)
        Expected true incidents per cell and round.
    flags : ndarray of bool, shape (n_rounds, n_cells)
        The cells patrolled in each round.
    explore : ndarray of bool, shape (n_rounds, n_cells)
        The patrolled cells that were drawn at random (exploration).
    incidents, reported, discovered : ndarray of int, shape (n_rounds, n_cells)
        True incidents; those reported (seen whether patrolled or not); those found by a
        patrol only (not reported). The forecaster only sees ``reported`` and
        ``discovered``.
    score : ndarray of float, shape (n_rounds, n_cells)
        The forecaster's score of each cell when it chose the round's flags (from the
        rounds before only).
    params : dict
        The parameters of the simulation.
    """

    true_rate: np.ndarray
    flags: np.ndarray
    explore: np.ndarray
    incidents: np.ndarray
    reported: np.ndarray
    discovered: np.ndarray
    score: np.ndarray
    params: dict

    @property
    def flag_share(self) -> np.ndarray:
        """Share of the flags so far on each cell, after every round, ``(n_rounds, n_cells)``."""
        cumulative = np.cumsum(self.flags, axis=0, dtype=np.float64)
        return cumulative / cumulative.sum(axis=1, keepdims=True)

    @property
    def true_share(self) -> np.ndarray:
        """Share of the true rate in each cell, ``true_rate / true_rate.sum()``."""
        return self.true_rate / self.true_rate.sum()

    @property
    def estimate_share(self) -> np.ndarray:
        """The forecaster's score as shares of its total, before each round (NaN if all 0)."""
        total = self.score.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, self.score / total, np.nan)

    def to_frame(self) -> pd.DataFrame:
        """One row per round.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``round`` (1 ..): ``n_flagged`` and ``n_explore`` (cells patrolled,
            of which at random); ``flag_area_share`` (share of the cells patrolled) and
            ``flagged_true_share`` (their share of the true rate: equal to
            ``flag_area_share`` when the patrols are no better than random, 1 when they
            hold all the true incidents); ``tvd``, the total variation distance between the
            cumulative flag shares and the true-rate shares (0: patrols so far in proportion
            to the true rates; near 1: all on cells of little true rate); ``gini`` of the
            cumulative flags per cell; ``estimate_tvd``, the same distance for the
            forecaster's score (its belief of where incidents happen); ``observed`` and
            ``discovered``, the incidents it saw in the round, of which found by patrols.
        """
        flags = self.flags
        n_flagged = flags.sum(axis=1)
        cumulative = np.cumsum(flags, axis=0, dtype=np.float64)
        gini_per_round = np.array([gini(row) for row in cumulative])
        return pd.DataFrame(
            {
                "n_flagged": n_flagged,
                "n_explore": self.explore.sum(axis=1),
                "flag_area_share": n_flagged / flags.shape[1],
                "flagged_true_share": (flags * self.true_share).sum(axis=1),
                "tvd": _tvd(self.flag_share, self.true_share),
                "gini": gini_per_round,
                "estimate_tvd": _tvd(self.estimate_share, self.true_share),
                "observed": (self.reported + self.discovered).sum(axis=1),
                "discovered": self.discovered.sum(axis=1),
            },
            index=pd.RangeIndex(1, flags.shape[0] + 1, name="round"),
        )

    def plot(self, *, ax=None, cells=None):
        """Draw the cumulative flag share of cells over the rounds, with their true shares.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure (not registered with pyplot) when omitted.
        cells : array-like of int, optional
            The cells to draw; default all cells when there are at most 10, else the 10
            most flagged.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from matplotlib.figure import Figure

        if ax is None:
            ax = Figure(figsize=(7, 4), layout="constrained").add_subplot()
        share = self.flag_share
        if cells is None:
            cells = np.argsort(-share[-1], kind="stable")[:10]
        cells = np.asarray(cells, dtype=np.int64)
        rounds = np.arange(1, share.shape[0] + 1)
        for cell in cells:
            (line,) = ax.plot(rounds, share[:, cell], label=f"cell {cell}")
            ax.axhline(self.true_share[cell], color=line.get_color(), linestyle=":", lw=1)
        mitigation = self.params["mitigation"]
        ax.set_title(
            f"mitigation={mitigation}, exploration={self.params['exploration']:g} "
            "(dotted: true share)"
        )
        ax.set_xlabel("round")
        ax.set_ylabel("share of the flags so far")
        ax.set_ylim(0, 1)
        ax.legend(loc="best", fontsize="small")
        return ax


def simulate_feedback(
    true_rate,
    *,
    n_rounds=200,
    coverage=0.1,
    discovery=0.5,
    reported=0.3,
    exploration=0.0,
    mitigation=None,
    half_life=None,
    random_state=None,
) -> FeedbackResult:
    """Simulate the feedback loop of a count-based hot-spot forecaster and its patrols.

    In the style of Ensign et al. (2018). Every round, each cell ``c`` has
    ``Poisson(true_rate[c])`` true incidents. Each is reported with probability
    ``reported``, whether the cell is patrolled or not; an unreported incident in a
    patrolled cell is discovered by the patrol with probability ``discovery``. The
    forecaster scores each cell by its observed incidents so far and patrols the top
    ``coverage`` of the cells in the next round (:func:`caslite.patrol.select_hot_cells`,
    with ``exploration``; ties: the lower cell id, so round 1 patrols the first cells).

    Parameters
    ----------
    true_rate : array-like of float, shape (n_cells,)
        Expected true incidents per cell and round; non-negative, with a positive sum, at
        least two cells.
    n_rounds : int, default 200
        Rounds to simulate.
    coverage : float, default 0.1
        Share of the cells patrolled per round, in (0, 1]; at least one cell.
    discovery : float, default 0.5
        Probability that a patrol finds an unreported incident in its cell.
    reported : float, default 0.3
        Probability that an incident is reported (seen everywhere).
    exploration : float, default 0.0
        Share of the patrolled cells drawn at random, in [0, 1) (see
        :func:`caslite.patrol.select_hot_cells`; cells here have equal areas, so the draw
        is uniform).
    mitigation : {None, "exclude_discovered", "downweight"}, default None
        How the forecaster counts discovered incidents: ``None`` like reported ones;
        ``"exclude_discovered"`` not at all (it learns from reported incidents only);
        ``"downweight"`` each weighted by the inverse of the probability that its cell was
        patrolled in that round (Horvitz-Thompson), which is 1 for the top cells and
        ``n_random / n_candidates`` for the cells exploration could draw; it needs
        ``exploration > 0``, as without it every patrolled cell had probability 1.
    half_life : float, optional
        Memory of the forecaster, in rounds: ``None`` sums all observed incidents; a number
        discounts a round's incidents by ``2 ** (-age / half_life)``.
    random_state : int, numpy.random.Generator or None
        Seed (:func:`numpy.random.default_rng`).

    Returns
    -------
    FeedbackResult

    Notes
    -----
    Expected observations per round: a patrolled cell ``c`` shows
    ``true_rate[c] * (reported + (1 - reported) * discovery)``, an unpatrolled one only
    ``true_rate[c] * reported``. Without mitigation a patrolled cell's score grows faster
    *because* it is patrolled: with equal true rates, the cells patrolled first pull ahead
    by ``true_rate * (1 - reported) * discovery`` per round on average, a lead that grows
    linearly while the noise grows as a square root, so the patrols lock onto them for
    good; the forecaster's score shares tend to
    ``(reported + (1 - reported) * discovery) / (k * (reported + (1 - reported) * discovery)
    + (n - k) * reported)`` for the ``k`` locked cells. A cell of lower true rate can even
    win: it keeps the patrols when
    ``rate_low * (reported + (1 - reported) * discovery) > rate_high * reported``.

    With ``"exclude_discovered"`` every cell's score grows at ``true_rate * reported``
    whoever is patrolled, so the score shares tend to the true shares; with
    ``"downweight"`` and exploration the weighted observations have expectation
    ``true_rate * (reported + (1 - reported) * discovery)`` in every cell, so they do too.
    Patrols that always go to the top cells still follow the leader of noisy, equal
    scores: with cumulative scores (``half_life=None``) the lead between cells of equal
    rate is a driftless random walk, which changes sign rarely (the arcsine law), so a
    single run can patrol one of two equal cells most of the time even with unbiased
    scores. A finite ``half_life`` makes the leader change often enough for the flag
    shares to approach the true split.

    References
    ----------
    Ensign, D., Friedler, S. A., Neville, S., Scheidegger, C., Venkatasubramanian, S. (2018).
    Runaway feedback loops in predictive policing. *Proceedings of Machine Learning
    Research* 81 (FAT* 2018), 160-171.

    Examples
    --------
    >>> result = simulate_feedback([1.0, 1.0], n_rounds=100, coverage=0.5, random_state=0)
    >>> result.flags[-50:].mean(axis=0).tolist()  # locked onto the cell patrolled first
    [1.0, 0.0]
    >>> result = simulate_feedback([1.0, 1.0], n_rounds=100, coverage=0.5,
    ...                            mitigation="exclude_discovered", random_state=0)
    >>> bool(abs(result.estimate_share[-1, 0] - 0.5) < 0.15)  # scores learn the 50/50 split
    True
    """
    from caslite.patrol import _exploration, _select

    rate = np.asarray(true_rate, dtype=np.float64)
    if rate.ndim != 1 or rate.size < 2:
        raise ValueError(
            f"true_rate must be 1-d with one rate per cell and at least 2 cells, got shape "
            f"{rate.shape}."
        )
    if not np.all(np.isfinite(rate)) or rate.min() < 0 or rate.sum() <= 0:
        raise ValueError(
            f"true_rate must be finite and non-negative with a positive sum (expected incidents "
            f"per round), got min {rate.min():g} and sum {rate.sum():g}."
        )
    n_rounds = check_int(n_rounds, "n_rounds", example=200)
    coverage = check_share(coverage, "coverage", "(0, 1]", what="a share of the cells", example=0.1)
    n_cells = rate.size
    if coverage * n_cells < 1 - 1e-9:
        raise ValueError(
            f"coverage={coverage:g} of {n_cells} cells is less than one cell; give coverage "
            f">= {1 / n_cells:g}."
        )
    discovery = check_share(discovery, "discovery", what="a probability", example=0.5)
    reported = check_share(reported, "reported", what="a probability", example=0.3)
    exploration = _exploration(exploration)
    if mitigation not in _MITIGATIONS:
        raise ValueError(
            f"mitigation must be None, 'exclude_discovered' or 'downweight', got {mitigation!r}."
        )
    if mitigation == "downweight" and exploration == 0:
        raise ValueError(
            "mitigation='downweight' weighs discovered incidents by 1 / P(cell patrolled); "
            "with exploration=0 every patrolled cell had probability 1, so it changes "
            "nothing. Give exploration > 0 (e.g. 0.2)."
        )
    if half_life is None:
        decay = 1.0
    else:
        if isinstance(half_life, bool) or not isinstance(half_life, numbers.Real):
            raise TypeError(f"half_life must be a number of rounds or None, got {half_life!r}.")
        if not (np.isfinite(half_life) and half_life > 0):
            raise ValueError(f"half_life must be a positive number of rounds, got {half_life!r}.")
        decay = 2.0 ** (-1.0 / float(half_life))
    rng = np.random.default_rng(random_state)
    shape = (int(n_rounds), n_cells)
    flags = np.zeros(shape, dtype=bool)
    explore = np.zeros(shape, dtype=bool)
    scores = np.zeros(shape)
    incidents = rng.poisson(rate, size=shape)
    seen = rng.binomial(incidents, reported)
    found = rng.binomial(incidents - seen, discovery)  # found only where patrolled, below
    score = np.zeros(n_cells)
    for t in range(shape[0]):
        scores[t] = score
        cells, n_top = _select(score, coverage, None, exploration, rng)
        flags[t, cells] = True
        explore[t, cells[n_top:]] = True
        found[t] *= flags[t]
        if mitigation is None:
            new = seen[t] + found[t]
        elif mitigation == "exclude_discovered":
            new = seen[t].astype(np.float64)
        else:
            n_random = cells.size - n_top
            propensity = np.full(n_cells, n_random / (n_cells - n_top))
            propensity[cells[:n_top]] = 1.0
            new = seen[t] + np.divide(
                found[t], propensity, out=np.zeros(n_cells), where=found[t] > 0
            )
        score = decay * score + new
    return FeedbackResult(
        true_rate=rate,
        flags=flags,
        explore=explore,
        incidents=incidents,
        reported=seen,
        discovered=found,
        score=scores,
        params={
            "n_rounds": int(n_rounds),
            "coverage": coverage,
            "discovery": discovery,
            "reported": reported,
            "exploration": exploration,
            "mitigation": mitigation,
            "half_life": half_life,
            "random_state": random_state,
        },
    )
