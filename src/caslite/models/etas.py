r"""A self-exciting point process on the grid, after Mohler et al. (2015).

The model of the PredPol field trials ("Randomized controlled field trials of predictive
policing", JASA 110, 2015): in every cell ``n`` events arrive at a constant background rate
and each event raises the rate of its own cell for a while,

.. math:: \lambda_n(t) = \mu_n + \sum_{t_i < t,\ i \in n} \theta\, \omega\, e^{-\omega (t - t_i)},

with ``theta`` the branching ratio (expected offspring per event, in ``[0, 1)``) and ``omega``
the decay rate per day. :class:`GridETAS` fits ``mu``, ``theta`` and ``omega`` by
expectation-maximisation and forecasts the expected events per cell and block.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from caslite._kernels.etas import em_pass
from caslite._time import DAY
from caslite._validation import check_int, check_number, check_share
from caslite.events import Events
from caslite.grid import Grid
from caslite.models._base import Forecaster
from caslite.models.risk import TooLittleDataError

__all__ = ["GridETAS"]

_THETA_MAX = 1.0 - 1e-9  # the M-step of theta is capped just below 1 (a stationary process)
_TINY = 1e-300


def _em_step(t, ptr, mu, theta, omega, span):
    """One expectation-maximisation step of the grid model.

    Parameters
    ----------
    t : ndarray of float64
        Event times in days before the end of the observation period (all ``<= 0``), sorted
        by cell and by time within a cell.
    ptr : ndarray of int64
        Cell ``n`` holds ``t[ptr[n]:ptr[n + 1]]``.
    mu : ndarray of float64
        Background rate of each cell (events per day).
    theta, omega : float
        Branching ratio and decay rate (per day).
    span : float
        Length of the observation period in days; it ends at 0.

    Returns
    -------
    mu, theta, omega : ndarray, float, float
        The parameters after the step.
    log_likelihood : float
        Log-likelihood of the parameters given (before the step).
    """
    background, triggered, lag_sum, log_sum = em_pass(t, ptr, mu, float(theta), float(omega))
    # Expected offspring of each event inside the period: 1 - exp(-omega (0 - t_i)).
    tail = np.exp(omega * t)
    edge = float(-np.expm1(omega * t).sum())
    log_likelihood = log_sum - float(mu.sum()) * span - theta * edge
    new_mu = background / span
    new_theta = min(triggered / edge, _THETA_MAX) if edge > 0 else 0.0
    # The cut-off offspring of the last events: d/d omega of theta * edge, per theta.
    edge_lag = float(np.sum(-t * tail))
    denominator = lag_sum + new_theta * edge_lag
    new_omega = triggered / denominator if triggered > _TINY and denominator > 0 else float(omega)
    return new_mu, float(new_theta), float(new_omega), float(log_likelihood)


def _sorted_times(events: Events, grid: Grid, origin: int, window: float):
    """Return the events of the fit, as :func:`_em_step` takes them.

    Returns ``t`` (days before the origin, negative, sorted by cell and then time), their
    ``cells``, the cell offsets ``ptr``, the observation span in days and the number of
    events in the window outside the grid's active cells.
    """
    lag = origin - events.t_end
    known = (lag > 0) & (lag <= window * float(DAY))
    cells = grid.cell_of(events.x[known], events.y[known])
    inside = cells >= 0
    start = events.t[known][inside].astype(np.float64)
    end = events.t_end[known][inside].astype(np.float64)
    t = ((start + end) / 2.0 - origin) / float(DAY)  # days, < 0
    cells = cells[inside]
    order = np.lexsort((t, cells))
    t, cells = np.ascontiguousarray(t[order]), cells[order]
    ptr = np.searchsorted(cells, np.arange(grid.n_cells + 1)).astype(np.int64)
    span = max(window, float(-t.min())) if len(t) else window
    return t, cells, ptr, span, int((~inside).sum())


class GridETAS(Forecaster):
    r"""Self-exciting point process per grid cell (Mohler et al. 2015), fitted by EM.

    The rate of events in cell ``n`` at time ``t`` (days) is

    .. math:: \lambda_n(t) = \mu_n + \sum_{t_i < t,\ i \in n} \theta\, \omega\,
              e^{-\omega (t - t_i)}:

    a background rate ``mu_n`` plus, for every earlier event of the same cell, a kernel that
    integrates to ``theta`` (the expected number of direct offspring of an event) and decays
    with rate ``omega`` (mean delay ``1 / omega`` days). The forecast of a block ``[a, b)``
    is the expected number of events in it,
    ``mu_n (b - a) + sum_i theta (exp(-omega (a - t_i)) - exp(-omega (b - t_i)))``
    over the events known before the origin; offspring of events that happen after the
    origin (not yet observed) are not included, so the forecast is slightly low when
    ``theta`` is large and the horizon long.

    Parameters
    ----------
    window_days : float, default 365
        Length of the observation period before the origin, in days of 24 hours.
    max_iter : int, default 1000
        Largest number of EM steps.
    tol : float, default 1e-6
        The fit has converged when a step changes ``theta`` by at most ``tol``, and
        ``omega`` and the total background rate by at most ``tol`` relative.
    init_theta : float, default 0.1
        Starting branching ratio, strictly between 0 and 1.
    init_omega_days : float, default 7.0
        Starting mean delay ``1 / omega`` in days.

    Attributes
    ----------
    background_ : ndarray of float64, shape (grid.n_cells,)
        Background rate ``mu`` of each cell, events per day (0 in cells without events).
    theta_ : float
        Branching ratio, in ``[0, 1)``.
    omega_ : float
        Decay rate per day.
    decay_days_ : float
        ``1 / omega_``: the mean delay between an event and its offspring, days.
    excitation_ : ndarray of float64, shape (grid.n_cells,)
        ``sum_i exp(-omega (origin - t_i))`` over the events of each cell: the state of the
        triggering at the origin, from which :meth:`predict` integrates.
    n_iter_ : int
        EM steps taken.
    log_likelihood_ : float
        Log-likelihood of the fitted parameters (times in days).
    converged_ : bool
        Whether the steps met ``tol`` before ``max_iter`` (a ``ConvergenceWarning`` otherwise).
    n_events_ : int
        Events fitted: known before the origin, in the window and in an active cell.
    n_outside_ : int
        Events known before the origin and in the window but outside the grid's active
        cells; they are left out of the fit (and so trigger nothing).
    origin_ : int
        Forecast origin, UTC seconds.
    grid_ : Grid
        The grid scored.

    Notes
    -----
    **Times.** An event with an exact time enters at that time; one with a time window
    (``t .. t_end``) at its midpoint. It is used when it was known before the origin and at
    most ``window_days`` before it, ``0 < origin - t_end <= window_days * 86400`` seconds, as
    in :class:`NaiveCounts`. The observation period is ``[origin - window, origin]``,
    widened to the earliest midpoint if one lies before it.

    **EM.** The E-step gives every event ``j`` the probability ``mu / lambda_j`` of being a
    background event and ``theta omega exp(-omega (t_j - t_i)) / lambda_j`` of being the
    offspring of an earlier event ``i`` of its cell. The M-step sets ``mu_n`` to the expected
    background events of cell ``n`` per day of the period; ``theta`` to the expected offspring
    divided by ``sum_i (1 - exp(-omega (T - t_i)))``, the offspring the events could have had
    before the period's end ``T`` (edge correction; capped just below 1); and ``omega`` to the
    expected offspring divided by their expected delays plus
    ``theta sum_i (T - t_i) exp(-omega (T - t_i))``, the edge correction of ``omega`` (at
    the new ``theta``; without it the offspring cut off by the period's end look like short
    delays and bias ``omega`` up and ``theta`` down, by tens of percent on a year of data).
    A fixed point of these steps is a stationary point of the likelihood. The sums over
    pairs are computed in O(N) per step by the recursion of the exponential kernel over each
    cell's sorted times (:mod:`caslite._kernels.etas`).

    **Exact duplicates.** Events at the same instant in the same cell (common in police data)
    do not trigger each other: only ``t_i < t_j`` strictly counts, so a zero delay cannot
    drive ``omega`` to infinity; each duplicate is then a background event or an offspring of
    earlier events.

    References
    ----------
    G. O. Mohler, M. B. Short, S. Malinowski, M. Johnson, G. E. Tita, A. L. Bertozzi and
    P. J. Brantingham (2015). Randomized controlled field trials of predictive policing.
    Journal of the American Statistical Association 110(512), 1399-1411.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> times = pd.date_range("2024-01-01", periods=40, freq="53h").astype(str)
    >>> frame = pd.DataFrame({"t": times, "x": 60.0, "y": 60.0})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> model = GridETAS(window_days=120).fit(events, grid, origin="2024-04-01")
    >>> model.n_events_, 0.0 <= model.theta_ < 1.0
    (40, True)
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-04-01", "14D")
    >>> risk = model.predict(blocks)
    >>> risk.shape, int(risk[0].argmax())
    ((84, 16), 0)
    """

    _fitted_attribute = "background_"

    def __init__(
        self, *, window_days=365, max_iter=1000, tol=1e-6, init_theta=0.1, init_omega_days=7.0
    ):
        self.window_days = window_days
        self.max_iter = max_iter
        self.tol = tol
        self.init_theta = init_theta
        self.init_omega_days = init_omega_days

    def fit(self, events, grid, *, origin):
        """Fit the background rates, the branching ratio and the decay by EM.

        Parameters
        ----------
        events : Events
            All incidents; those known at or after the origin, or before the window, are
            ignored, and so are those outside the grid's active cells (``n_outside_``).
        grid : Grid
            The cells; its CRS must equal the events'.
        origin : str, datetime or int
            Forecast origin; naive values are local time of the events.

        Returns
        -------
        self

        Raises
        ------
        TooLittleDataError
            When no event known in the window lies in an active cell.
        """
        self._check_fit_input(events, grid)
        window = check_number(self.window_days, "window_days", positive=True, unit="days")
        max_iter = check_int(self.max_iter, "max_iter")
        tol = check_number(self.tol, "tol", positive=True)
        theta = check_share(self.init_theta, "init_theta", "(0, 1)")
        omega = 1.0 / check_number(
            self.init_omega_days, "init_omega_days", positive=True, unit="days"
        )
        origin = self._origin_seconds(origin, events)

        t, cells, ptr, span, n_outside = _sorted_times(events, grid, origin, window)
        self.n_outside_ = n_outside
        if not len(t):
            raise TooLittleDataError(
                f"no events to fit: none known in the {window:g} days before the origin "
                f"{origin} (UTC seconds) lies in an active cell of the grid ({n_outside} lie "
                "outside it). Use an origin after the events, a longer window_days, or a grid "
                "that covers the events."
            )
        counts = np.diff(ptr).astype(np.float64)
        mu = counts * (1.0 - theta) / span
        converged = False
        n_iter = 0
        for n_iter in range(1, max_iter + 1):  # noqa: B007 (n_iter is read after the loop)
            new_mu, new_theta, new_omega, _ = _em_step(t, ptr, mu, theta, omega, span)
            change = max(
                abs(new_theta - theta),
                abs(new_omega - omega) / omega,
                abs(new_mu.sum() - mu.sum()) / mu.sum(),
            )
            mu, theta, omega = new_mu, new_theta, new_omega
            if change <= tol:
                converged = True
                break
        if not converged:
            warnings.warn(
                f"GridETAS did not converge in max_iter={max_iter} EM steps (last relative "
                f"change {change:.3g} > tol={tol:g}); raise max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        *_, log_likelihood = _em_step(t, ptr, mu, theta, omega, span)

        self.background_ = mu
        self.theta_ = theta
        self.omega_ = omega
        self.decay_days_ = 1.0 / omega
        self.excitation_ = np.bincount(cells, weights=np.exp(omega * t), minlength=grid.n_cells)
        self.n_iter_ = n_iter
        self.log_likelihood_ = log_likelihood
        self.converged_ = converged
        self.n_events_ = len(t)
        self.origin_ = origin
        self.grid_ = grid
        return self

    def predict(self, blocks) -> np.ndarray:
        """Return the expected events of every cell in every block.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the origin (e.g. ``schedule.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
            ``mu_n (b - a) + theta * excitation_n * (exp(-omega a) - exp(-omega b))`` with
            ``a``, ``b`` the block's UTC start and end in days after the origin: background
            plus the offspring of the events known before the origin (not of later ones).
        """
        self._check_fitted()
        self._check_blocks(blocks)
        a = (blocks.start - self.origin_) / float(DAY)
        b = (blocks.end - self.origin_) / float(DAY)
        decay = np.exp(-self.omega_ * a) - np.exp(-self.omega_ * b)
        background = np.outer(b - a, self.background_)
        return self._checked_output(
            background + np.outer(self.theta_ * decay, self.excitation_), blocks
        )
