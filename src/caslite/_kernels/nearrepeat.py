"""numba kernels of the near-repeat scores (private; see :mod:`caslite.nearrepeat`).

The score of active cell ``c`` at instant ``s`` is ``sum_i k_space(d_ic) * k_time(s - t_i)``
over events with ``t_i < s`` (and ``t_i < before``) and ``s - t_i <= window``. It is computed
in two stages:

1. **footprints** (parallel over events): the active cells within the radius of each event and
   their spatial weights, as a CSR table (``ptr``, ``cells``, ``weights``). Only the raster
   cells of a square window around the event are visited, through ``raster_to_cell``.
2. **blocks**: either *direct* (parallel over blocks, each block its own output row: scatter
   the footprint of every event in the block's time window, times its time weight), or
   *recursive*, sequential over blocks with a running score: for the exponential time kernel
   ``score(s_b) = score(s_{b-1}) * exp(-(s_b - s_{b-1}) / tau) + new - expired``; for the
   Bowers time kernel only the events whose weekly weight changed (entering, stepping down,
   leaving) scatter the change of their weight.

Grid-form space weights with the Bowers time kernel skip the footprints when the weights are
fractions (the Bowers weights are): an event's weights then depend only on its raster cell,
so :func:`_score_steps_raster` sums the changes of weight per raster cell in whole
numbers, adds each changed cell's stamp (its ring weights, one vector operation per row) to
the field on the raster, exactly, and writes each block in the same pass down the raster.

Codes: space kind 0 exponential ``exp(-d / p)``, 1 Gaussian ``exp(-d^2 / 2p^2)``,
2 Bowers ``1 / (1 + d / p)``; time kind 0 exponential ``exp(-dt / p)``, 1 Bowers
``1 / (1 + floor(dt / p))``. Distances are metres and times seconds.
No fastmath: NaN and Inf keep their meaning.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from caslite._kernels import JIT_OPTIONS

SPACE_EXPONENTIAL, SPACE_GAUSSIAN, SPACE_BOWERS = 0, 1, 2
TIME_EXPONENTIAL, TIME_BOWERS = 0, 1


@njit(**JIT_OPTIONS)
def _space_weight(kind, param, d):
    """Spatial weight at distance ``d`` (metres), before truncation."""
    if kind == SPACE_EXPONENTIAL:
        return math.exp(-d / param)
    if kind == SPACE_GAUSSIAN:
        return math.exp(-(d * d) / (2.0 * param * param))
    return 1.0 / (1.0 + d / param)


@njit(**JIT_OPTIONS)
def _time_weight(kind, param, dt):
    """Temporal weight of an event ``dt`` seconds (float) before the scored instant."""
    if kind == TIME_EXPONENTIAL:
        return math.exp(-dt / param)
    return 1.0 / (1.0 + math.floor(dt / param))


@njit(**JIT_OPTIONS)
def _index_range(u, reach, n):
    """Raster indices ``[lo, hi]`` that may lie within ``reach`` cells of position ``u``.

    ``u`` is a coordinate in cell units from the raster origin; a margin of one cell covers
    both the centre distance and the cell-to-cell distance. Clipped to ``[0, n - 1]`` (empty
    when ``lo > hi``), in floating point first so that far-away events cannot overflow.
    """
    lo = min(max(math.floor(u - reach) - 1.0, 0.0), float(n))
    hi = min(max(math.floor(u + reach) + 1.0, -1.0), float(n - 1))
    return int(lo), int(hi)


@njit(**JIT_OPTIONS)
def _event_footprint(
    xi, yi, x0, y0, size, n_rows, n_cols, raster_to_cell, cell_x, cell_y,
    kind, param, radius, grid_form, cells, weights, start, write,
):  # fmt: skip
    """Visit the cells within ``radius`` of one event; return how many there are.

    With ``write`` the cell ids and weights go to ``cells[start:]`` and ``weights[start:]``.
    Continuous form: ``d = hypot`` to the cell centre. Grid form: ``d`` = Chebyshev distance
    in whole cells between the event's (possibly virtual) raster cell and the cell, times
    ``size``.
    """
    u = (xi - x0) / size
    v = (yi - y0) / size
    reach = radius / size
    c_lo, c_hi = _index_range(u, reach, n_cols)
    r_lo, r_hi = _index_range(v, reach, n_rows)
    event_col = math.floor(u)
    event_row = math.floor(v)
    count = 0
    for row in range(r_lo, r_hi + 1):
        for col in range(c_lo, c_hi + 1):
            cell = raster_to_cell[row * n_cols + col]
            if cell < 0:
                continue
            if grid_form:
                d = max(abs(row - event_row), abs(col - event_col)) * size
            else:
                d = math.hypot(cell_x[cell] - xi, cell_y[cell] - yi)
            if d > radius:
                continue
            if write:
                cells[start + count] = cell
                weights[start + count] = _space_weight(kind, param, d)
            count += 1
    return count


@njit(parallel=True, **JIT_OPTIONS)
def _footprint_sizes(
    x, y, x0, y0, size, n_rows, n_cols, raster_to_cell, cell_x, cell_y,
    kind, param, radius, grid_form,
):  # fmt: skip
    """Count the cells in the footprint of every event; parallel over events."""
    n = len(x)
    counts = np.zeros(n, dtype=np.int64)
    no_cells = np.empty(0, dtype=np.int64)
    no_weights = np.empty(0, dtype=np.float64)
    for i in prange(n):
        counts[i] = _event_footprint(
            x[i], y[i], x0, y0, size, n_rows, n_cols, raster_to_cell, cell_x, cell_y,
            kind, param, radius, grid_form, no_cells, no_weights, 0, False,
        )  # fmt: skip
    return counts


@njit(parallel=True, **JIT_OPTIONS)
def _footprints(
    x, y, ptr, x0, y0, size, n_rows, n_cols, raster_to_cell, cell_x, cell_y,
    kind, param, radius, grid_form,
):  # fmt: skip
    """Footprints as CSR ``cells``, ``weights`` (event ``i`` at ``ptr[i]:ptr[i+1]``).

    ``ptr`` is the cumulative sum of :func:`_footprint_sizes`, starting at 0. Parallel over
    events; each writes its own slice.
    """
    n = len(x)
    cells = np.empty(ptr[n], dtype=np.int64)
    weights = np.empty(ptr[n], dtype=np.float64)
    for i in prange(n):
        _event_footprint(
            x[i], y[i], x0, y0, size, n_rows, n_cols, raster_to_cell, cell_x, cell_y,
            kind, param, radius, grid_form, cells, weights, ptr[i], True,
        )  # fmt: skip
    return cells, weights


@njit(**JIT_OPTIONS)
def _scatter_block(s, lo, hi, t, ptr, cells, weights, kind, param, window, acc):
    """Add the events ``lo <= i < hi`` that are in the window of instant ``s`` to ``acc``."""
    for i in range(lo, hi):
        dt = s - t[i]
        if dt <= 0 or float(dt) > window:
            continue
        w = _time_weight(kind, param, float(dt))
        for k in range(ptr[i], ptr[i + 1]):
            acc[cells[k]] += w * weights[k]


@njit(parallel=True, **JIT_OPTIONS)
def _score_direct(starts, lo, hi, t, ptr, cells, weights, kind, param, window, out):
    """Add the score of every block to ``out`` (float64); parallel over blocks, a row each.

    ``lo[b]:hi[b]`` must contain every event that counts for block ``b``; others in the range
    are skipped by the exact tests ``0 < s - t_i <= window``.
    """
    for b in prange(out.shape[0]):
        _scatter_block(starts[b], lo[b], hi[b], t, ptr, cells, weights, kind, param, window, out[b])


@njit(parallel=True, **JIT_OPTIONS)
def _score_direct_rows(starts, lo, hi, t, ptr, cells, weights, kind, param, window, out):
    """As :func:`_score_direct` for an ``out`` of another dtype (float32).

    Each block is summed in a float64 row of its own, then added to its row of ``out``.
    """
    n_blocks, n_cells = out.shape
    for b in prange(n_blocks):
        acc = np.zeros(n_cells)
        _scatter_block(starts[b], lo[b], hi[b], t, ptr, cells, weights, kind, param, window, acc)
        for c in range(n_cells):
            out[b, c] += acc[c]


@njit(**JIT_OPTIONS)
def _add_events(s, first, last, t, ptr, cells, weights, tau, sign, acc, live):
    """Add (``sign=1``) or remove (``sign=-1``) events ``first:last`` at instant ``s``."""
    for i in range(first, last):
        w = math.exp(-float(s - t[i]) / tau)
        for k in range(ptr[i], ptr[i + 1]):
            c = cells[k]
            live[c] += sign
            if live[c] == 0:
                acc[c] = 0.0  # exact zero once nothing is in range, no rounding residue
            else:
                acc[c] += sign * w * weights[k]
                if acc[c] < 0.0:  # a sum of non-negative terms: only rounding makes it < 0
                    acc[c] = 0.0


@njit(**JIT_OPTIONS)
def _score_recursive(starts, cut, t, ptr, cells, weights, tau, window, out):
    """Add the scores to ``out`` with the exponential time kernel, updating a running score.

    Blocks must be in ascending order of ``starts``.
    Events counted at ``s_b`` are ``t_i < min(s_b, cut)`` and ``s_b - t_i <= window``; both
    ends of that index range only move forward, so each event is added and removed once.
    """
    n_blocks, n_cells = out.shape
    n = len(t)
    acc = np.zeros(n_cells)
    live = np.zeros(n_cells, dtype=np.int64)
    lo = 0
    hi = 0
    previous = starts[0] if n_blocks else 0
    for b in range(n_blocks):
        s = starts[b]
        decay = math.exp(-float(s - previous) / tau)
        if decay != 1.0:
            for c in range(n_cells):
                acc[c] *= decay
        previous = s
        new_lo = lo
        while new_lo < n and float(s - t[new_lo]) > window:
            new_lo += 1
        limit = min(s, cut)
        new_hi = hi
        while new_hi < n and t[new_hi] < limit:
            new_hi += 1
        new_hi = max(new_hi, new_lo)
        # leaving: [lo, min(new_lo, hi)); entering: [max(hi, new_lo), new_hi)
        _add_events(s, lo, min(new_lo, hi), t, ptr, cells, weights, tau, -1, acc, live)
        _add_events(s, max(hi, new_lo), new_hi, t, ptr, cells, weights, tau, 1, acc, live)
        lo = new_lo
        hi = new_hi
        for c in range(n_cells):
            out[b, c] += acc[c]


@njit(**JIT_OPTIONS)
def _step_weight(s, ti, cut, param, window):
    """Bowers weight of an event at ``ti`` at instant ``s``, 0 when it does not count."""
    dt = s - ti
    if dt <= 0 or ti >= cut or float(dt) > window:
        return 0.0
    return 1.0 / (1.0 + math.floor(float(dt) / param))


@njit(**JIT_OPTIONS)
def _update_events(s, first, last, t, ptr, cells, weights, cut, param, window, now, acc, live):
    """Bring events ``first:last`` to their weight at ``s``: scatter only what changed."""
    for i in range(first, last):
        w = _step_weight(s, t[i], cut, param, window)
        delta = w - now[i]
        if delta == 0.0:
            continue
        change = (w > 0.0) - (now[i] > 0.0)  # +1 entering, -1 leaving, 0 a step down
        now[i] = w
        for k in range(ptr[i], ptr[i + 1]):
            c = cells[k]
            live[c] += change
            if live[c] == 0:
                acc[c] = 0.0  # exact zero once nothing is in range, no rounding residue
            else:
                acc[c] += delta * weights[k]
                if acc[c] < 0.0:  # a sum of non-negative terms: only rounding makes it < 0
                    acc[c] = 0.0


@njit(**JIT_OPTIONS)
def _score_steps(starts, cut, t, ptr, cells, weights, param, window, out):
    """Add the scores to ``out`` with the Bowers time kernel, updating a running score.

    Blocks must be in ascending order of ``starts``, and ``window / param`` small (the
    weight steps ``1 / (1 + floor(dt / param))`` of an event number ``floor(window / param)
    + 1``). An event's weight changes only when it enters the window, steps down, or leaves:
    for each step ``j`` the events with ``floor((s - t_i) / param) >= j`` are a prefix of the
    time-sorted events that only grows with ``s``, so each event is visited a bounded number
    of times (about the number of steps plus two) instead of once per block.
    """
    n_blocks, n_cells = out.shape
    n = len(t)
    n_steps = int(math.floor(window / param)) + 1  # steps 0 .. n_steps - 1 within the window
    acc = np.zeros(n_cells)
    live = np.zeros(n_cells, dtype=np.int64)
    now = np.zeros(n)  # weight of each event at the previous instant
    bound = np.zeros(n_steps, dtype=np.int64)  # bound[j]: prefix with step >= j (j >= 1)
    hi = 0  # events with t_i < min(s, cut): [0, hi)
    lo = 0  # events beyond the window: [0, lo)
    for b in range(n_blocks):
        s = starts[b]
        limit = min(s, cut)
        new_hi = hi
        while new_hi < n and t[new_hi] < limit:
            new_hi += 1
        _update_events(s, hi, new_hi, t, ptr, cells, weights, cut, param, window, now, acc, live)
        hi = new_hi
        for j in range(1, n_steps):
            first = bound[j]
            last = first
            while last < hi and math.floor(float(s - t[last]) / param) >= j:
                last += 1
            _update_events(
                s, first, last, t, ptr, cells, weights, cut, param, window, now, acc, live
            )
            bound[j] = last
        new_lo = lo
        while new_lo < hi and float(s - t[new_lo]) > window:
            new_lo += 1
        _update_events(s, lo, new_lo, t, ptr, cells, weights, cut, param, window, now, acc, live)
        lo = new_lo
        for c in range(n_cells):
            out[b, c] += acc[c]


@intrinsic
def _fma(typingctx, a, b, c):
    """Compute ``a * b + c`` rounded once (LLVM's ``fma``: one instruction where the CPU has it)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return signature, codegen


@njit(**JIT_OPTIONS)
def _divide(x, d, reciprocal):
    """``x / d`` correctly rounded, from ``reciprocal = 1 / d`` (rounded) without a division.

    Two corrections with the exact residual ``x - q d`` (an ``fma``) turn ``x * reciprocal``
    into the correctly rounded quotient: the first makes it faithful (within one unit in
    the last place), the second, by Markstein's theorem (Muller et al., *Handbook of
    Floating-Point Arithmetic*, 2018, section 4.7), rounds it correctly when
    ``reciprocal`` is ``1 / d`` rounded to nearest. For finite ``x`` and ``d`` without
    underflow or overflow (the kernels use whole numbers below 2**53 over a whole-number
    denominator). Three vectorizable operations where a division costs several cycles per
    value; ``tests/test_nearrepeat.py`` checks it against ``/``.
    """
    q = x * reciprocal
    q = _fma(_fma(-q, d, x), reciprocal, q)
    return _fma(_fma(-q, d, x), reciprocal, q)


@njit(**JIT_OPTIONS)
def _raster_spots(x, y, x0, y0, size, n_rows, n_cols, half, stride):
    """Cell of every event in the raster padded by ``half`` cells on every side.

    ``spot[i] = (row + half) * stride + col + half`` (``stride >= n_cols + 2 half``), or -1
    for an event more than ``half`` cells outside the raster (it touches no cell). Returns
    ``(spot, n_bad)``, ``n_bad`` the number of events with a NaN or infinite coordinate
    (they get -1 as well).
    """
    n = len(x)
    spot = np.empty(n, dtype=np.int64)
    n_bad = 0
    for i in range(n):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            n_bad += 1
            spot[i] = -1
            continue
        row = math.floor((y[i] - y0) / size)
        col = math.floor((x[i] - x0) / size)
        if row < -half or row > n_rows - 1 + half or col < -half or col > n_cols - 1 + half:
            spot[i] = -1
        else:
            spot[i] = (int(row) + half) * stride + int(col) + half
    return spot, n_bad


@njit(**JIT_OPTIONS)
def _busiest_square(spot, n_lines, stride, half):
    """Count the events of the fullest square of ``2 half + 1`` places of the padded raster.

    ``spot`` as from :func:`_raster_spots` (``line * stride + column``, -1 for none), on
    ``n_lines`` lines of ``stride`` places with at least ``2 half`` empty places at the end
    of every line. The events per place are summed over windows of ``2 half + 1`` places
    along the lines (running sums), then of ``2 half + 1`` lines. A window that starts in the
    empty end of a line holds a subset of the events of one within the next line, and one
    cut by the first line a subset of a whole one: the largest window is the largest
    square.
    """
    width = 2 * half + 1
    n_places = n_lines * stride
    counts = np.zeros(n_places, dtype=np.int32)
    for i in range(len(spot)):
        if spot[i] >= 0:
            counts[spot[i]] += 1
    along = np.empty(n_places, dtype=np.int64)  # windows ending at each place
    running = 0
    for p in range(n_places):
        running += counts[p]
        if p >= width:
            running -= counts[p - width]
        along[p] = running
    across = np.zeros(stride, dtype=np.int64)  # windows of lines ending at each line
    busiest = 0
    for ln in range(n_lines):
        line = along[ln * stride : (ln + 1) * stride]
        for c in range(stride):  # vectorized
            across[c] += line[c]
        if ln >= width:
            gone = along[(ln - width) * stride : (ln - width + 1) * stride]
            for c in range(stride):
                across[c] -= gone[c]
        busiest = max(busiest, across.max())
    return busiest


LANES = 8
"""Values per vector operation of :func:`_add_scaled` (LLVM's ``<8 x double>``)."""

WORD = 64
"""Cells per word of the kernel's bit map of changed cells (``uint64``)."""

_FIELD_ELEMENTS = {types.float64: (ir.DoubleType(), 8), types.int32: (ir.IntType(32), 4)}
"""LLVM element type and alignment of the raster field's dtypes: float64, or int32 where
every value fits (half the bytes per stamp row)."""


def _field_dtype(*arrays):
    """Return the dtype of C-contiguous float64 or int32 arrays of one dtype, else None."""
    if not all(isinstance(a, types.Array) and a.layout == "C" for a in arrays):
        return None
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1 or arrays[0].dtype not in _FIELD_ELEMENTS:
        return None
    return arrays[0].dtype


def _spread(builder, value, dtype):
    """Put an int64 ``value`` in every lane of a vector of ``dtype`` (codegen)."""
    element = _FIELD_ELEMENTS[dtype][0]
    if dtype == types.float64:
        value = builder.sitofp(value, element)  # as float(value)
    else:
        value = builder.trunc(value, element)
    vector = ir.VectorType(element, LANES)
    lane = ir.Constant(ir.IntType(32), 0)
    one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, lane)
    mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined), mask)


def _scaled_sum(builder, value, scale, row, dtype):
    """``value + scale * row`` on vectors of ``dtype`` (codegen): rounded twice for float64."""
    if dtype == types.float64:
        return builder.fadd(value, builder.fmul(scale, row))
    return builder.add(value, builder.mul(scale, row))


@intrinsic
def _add_scaled(typingctx, target, i, source, j, scale):
    """``target[i:i + LANES] += scale * source[j:j + LANES]`` as one vector operation.

    ``scale`` is an integer (int64, converted to the arrays' dtype). ``target`` and
    ``source`` are C-contiguous arrays of one dtype, float64 or int32 (then the scale and
    every product and sum must fit in int32: the caller checks), read at flat offsets ``i``
    and ``j``; no bounds checks (the caller keeps both ranges inside the arrays). LLVM's
    ``<8 x double>`` (``<8 x i32>``) operations: one AVX-512 (AVX2) instruction each where
    a loop over a short runtime range would pay its set-up for every row. In float64 the
    product and the sum are rounded separately, as ``target[k] += scale * source[k]``.
    """
    dtype = _field_dtype(target, source)
    if dtype is None:
        return None
    signature = types.void(target, types.intp, source, types.intp, types.int64)

    def codegen(context, builder, sig, args):
        element, align = _FIELD_ELEMENTS[dtype]
        vector = ir.VectorType(element, LANES)
        pointers = []
        for array_type, array, offset in [(sig.args[0], args[0], args[1]),
                                          (sig.args[2], args[2], args[3])]:  # fmt: skip
            data = context.make_array(array_type)(context, builder, value=array).data
            pointers.append(builder.bitcast(builder.gep(data, [offset]), vector.as_pointer()))
        spread = _spread(builder, args[4], dtype)
        value = builder.load(pointers[0], align=align)
        row = builder.load(pointers[1], align=align)
        builder.store(_scaled_sum(builder, value, spread, row, dtype), pointers[0], align=align)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def _add_stamp(typingctx, target, i, stride, stamp, scale, rows):
    """``target[i + dy stride:][:LANES] += scale * stamp[dy LANES:][:LANES]`` for ``dy < rows``.

    A stamp of one group of :data:`LANES` values per row, added as ``rows`` vector
    operations, each as :func:`_add_scaled` (float64 or int32). ``rows`` must be a literal
    (a constant at the call), so that the rows are written out: a loop over a few rows
    costs more than their work. The stamp's rows are loaded as invariant
    (``!invariant.load``: nothing writes the stamp while a kernel runs), so that LLVM may
    load them before the stores to ``target``, which it must otherwise assume might overlap
    them. ``target`` and ``stamp`` are C-contiguous arrays of one dtype, ``target`` read at
    flat offsets ``i + dy * stride``; no bounds checks (the caller keeps the ranges inside
    the arrays).
    """
    dtype = _field_dtype(target, stamp)
    if dtype is None or not isinstance(rows, types.IntegerLiteral):
        return None
    n_rows = rows.literal_value
    signature = types.void(target, types.intp, types.intp, stamp, types.int64, rows)

    def codegen(context, builder, sig, args):
        element, align = _FIELD_ELEMENTS[dtype]
        vector = ir.VectorType(element, LANES)
        target_data = context.make_array(sig.args[0])(context, builder, value=args[0]).data
        stamp_data = context.make_array(sig.args[3])(context, builder, value=args[3]).data
        spread = _spread(builder, args[4], dtype)
        invariant = builder.module.add_metadata([])
        offset = args[1]
        for dy in range(n_rows):
            at = builder.gep(stamp_data, [ir.Constant(ir.IntType(64), dy * LANES)])
            row = builder.load(builder.bitcast(at, vector.as_pointer()), align=align)
            row.set_metadata("invariant.load", invariant)
            pointer = builder.bitcast(builder.gep(target_data, [offset]), vector.as_pointer())
            value = builder.load(pointer, align=align)
            builder.store(_scaled_sum(builder, value, spread, row, dtype), pointer, align=align)
            offset = builder.add(offset, args[2])
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def _quotients(typingctx, target, i, source, j, d, reciprocal):
    """``target[i:i + LANES] = source[j:j + LANES] / d`` as vector operations, no division.

    :func:`_divide` on :data:`LANES` values at once (a product and two ``fma`` corrections,
    the same bits as IEEE division for the kernel's whole numbers), stored in ``target``'s
    dtype (float64, or float32 rounded from the float64 quotient, as a scalar store does).
    ``source`` holds float64 or int32 whole numbers (converted to float64 exactly).
    ``target`` and ``source`` are C-contiguous arrays read at flat offsets ``i`` and ``j``;
    no bounds checks (the caller keeps both ranges inside the arrays). Written out because
    LLVM vectorizes the scalar loop four values at a time only.
    """
    if not (
        isinstance(target, types.Array)
        and target.layout == "C"
        and target.dtype in (types.float32, types.float64)
        and _field_dtype(source) is not None
    ):
        return None
    signature = types.void(target, types.intp, source, types.intp, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        vector = ir.VectorType(ir.DoubleType(), LANES)

        def pointer(array_type, array, offset, element):
            data = context.make_array(array_type)(context, builder, value=array).data
            return builder.bitcast(
                builder.gep(data, [offset]), ir.VectorType(element, LANES).as_pointer()
            )

        def spread(value):
            lane = ir.Constant(ir.IntType(32), 0)
            one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, lane)
            mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
            return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined), mask)

        fma_type = ir.FunctionType(vector, [vector, vector, vector])
        name = f"llvm.fma.v{LANES}f64"
        fma = builder.module.globals.get(name) or ir.Function(builder.module, fma_type, name)
        element, align = _FIELD_ELEMENTS[sig.args[2].dtype]
        x = builder.load(pointer(sig.args[2], args[2], args[3], element), align=align)
        if sig.args[2].dtype != types.float64:
            x = builder.sitofp(x, vector)  # exact: int32
        d, reciprocal = spread(args[4]), spread(args[5])
        q = builder.fmul(x, reciprocal)
        for _ in range(2):  # as _divide: the residual x - q d exactly, then the correction
            residual = builder.call(fma, [builder.fneg(q), d, x])
            q = builder.call(fma, [residual, reciprocal, q])
        if sig.args[0].dtype == types.float32:
            element = ir.FloatType()
            q = builder.fptrunc(q, ir.VectorType(element, LANES))
            align = 4
        else:
            element, align = ir.DoubleType(), 8
        builder.store(q, pointer(sig.args[0], args[0], args[1], element), align=align)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def _trailing_zeros(typingctx, bits):
    """Index of the lowest set bit of a nonzero ``uint64`` (LLVM's ``cttz``, one instruction)."""
    if bits != types.uint64:
        return None
    signature = types.int64(types.uint64)

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return signature, codegen


@njit(**JIT_OPTIONS)
def _lanes_first(where):
    """Return the bit of cell ``where`` (>= 0) in its word of the bit map: lane, then group.

    Cell ``64 w + 8 g + l`` (lane ``l`` of group ``g`` of :data:`LANES` cells in word
    ``w``) is bit ``8 l + g`` of word ``w``, so that the set bits of a word in ascending
    order visit lane 0 of every group first, then lane 1, and so on: consecutive stamps of
    a line are then mostly :data:`LANES` or more cells apart and do not overlap the one
    just stored (a load that partly overlaps a pending store waits until the store reaches
    the cache). Bit ``k`` is cell ``(k % 8) * 8 + k // 8`` of the word (:data:`WORD` is
    ``LANES ** 2``).
    """
    return (where % LANES) * LANES + (where // LANES) % LANES


def _changes_like(stamp, n):
    """Zeros to sum a block's changes per cell in: int32 for an int32 field, else int64."""
    return np.zeros(n, dtype=np.int32 if stamp.dtype == np.int32 else np.int64)


@overload(_changes_like)
def _changes_like_typed(stamp, n):
    """:func:`_changes_like` in compiled code: the dtype is chosen when it is compiled."""
    if stamp.dtype == types.int32:  # the change of a cell fits as its field value does
        return lambda stamp, n: np.zeros(n, dtype=np.int32)
    return lambda stamp, n: np.zeros(n, dtype=np.int64)


@njit(**JIT_OPTIONS)
def _add_one_group_stamp(field, node, stride, stamp, scale, size):
    """:func:`_add_stamp` of ``size`` rows (1, 3, 5 or 7: a stamp of one group of lanes)."""
    if size == 7:
        _add_stamp(field, node, stride, stamp, scale, 7)
    elif size == 5:
        _add_stamp(field, node, stride, stamp, scale, 5)
    elif size == 3:
        _add_stamp(field, node, stride, stamp, scale, 3)
    else:
        _add_stamp(field, node, stride, stamp, scale, 1)


@njit(**JIT_OPTIONS)
def _steps_below(i, bound):
    """Count the prefixes ``bound[1:]`` (largest first) that hold event ``i``: its step."""
    step = 0
    for j in range(1, len(bound)):
        step += i < bound[j]
    return step


@njit(**JIT_OPTIONS)
def _sort_small(values, n):
    """Sort ``values[:n]`` in place (insertion sort: a few dozen values)."""
    for k in range(1, n):
        v = values[k]
        m = k - 1
        while m >= 0 and values[m] > v:
            values[m + 1] = values[m]
            m -= 1
        values[m + 1] = v


@njit(**JIT_OPTIONS)
def _score_steps_raster(
    starts, cut, t, spot, step_start, time_units, stamp, denominator, row_start, cell_col,
    n_rows, n_cols, stride, out,
):  # fmt: skip
    """Write the scores to ``out`` for grid-form space weights and the Bowers time kernel.

    The weights are whole numbers over ``denominator``: an event in raster cell ``(r, c)``
    with time weight ``time_units[j]`` adds ``time_units[j] * ring_units[k]`` to every cell
    ``k`` cells from it (Chebyshev); ``stamp`` holds those ring units around the event's
    cell, ``(2h + 1)`` rows of ``2h + 1`` values padded with zeros to whole groups of
    :data:`LANES`. The field is kept on the raster padded by ``2h`` cells on every side
    (``field``, rows of ``stride`` values) in whole numbers of the stamp's dtype: float64,
    exact while below 2**53, or int32 (half the bytes per stamp row) when every value, and
    every sum on the way, is below 2**31 (the caller checks which holds), so cells with
    nothing in range are exactly zero and each score is its exact sum rounded once.

    At each block the events whose weight entered, stepped down or left since the previous
    block are summed per raster cell. For each step ``j`` the events with ``lag >=
    step_start[j]`` are a prefix of the time-sorted events that only grows (found by
    ``searchsorted``); between consecutive ends of the old and new prefixes every event's
    weight changed by the same amount, so only the runs of events whose weight changed are
    visited (each event a bounded number of times), with no per-event test or division.
    The changed cells are marked in a bit map (``changed``). Then one pass down the raster
    finds them line by line (in each word of the bit map lane by lane, :func:`_lanes_first`),
    adds the stamp of each, scaled by its change (one vector operation per stamp row and
    group of lanes, :func:`_add_stamp` or :func:`_add_scaled`), and writes
    each raster row as soon as no later stamp can reach it: ``field / denominator`` for its
    active cells, correctly rounded by :func:`_divide` (:func:`_quotients`, eight at a time,
    for rows whose cells are all active). The rows the pass works on stay in
    the first-level cache.

    ``spot[i]`` is event ``i``'s cell in the raster padded by ``h`` cells, ``(row + h) *
    stride + col + h`` (also the offset of its stamp in ``field``), or -1 (the event touches
    no cell); ``stride >= n_cols + 2h + stamp.shape[1] - 1`` is a multiple of :data:`WORD`.
    Active cells are numbered row by row: those of raster row ``r`` are ``row_start[r]:
    row_start[r + 1]``, in columns ``cell_col``. ``step_start[j]`` (``j >= 1``) is the
    shortest whole-second lag with ``floor(lag / param) >= j``, ``step_start[len(
    time_units)]`` the shortest beyond the window. Blocks must be in ascending order of
    ``starts``.
    """
    n_blocks, n_cells = out.shape
    n = len(t)
    n_steps = len(time_units)
    size = stamp.shape[0]  # 2h + 1
    half = (size - 1) // 2
    n_groups = stamp.shape[1] // LANES
    n_lines = n_rows + 2 * half  # raster rows an event's stamp can start from
    flat_stamp = stamp.ravel()
    field = np.zeros((n_lines + 2 * half) * stride, dtype=stamp.dtype)
    pending = _changes_like(stamp, n_lines * stride)
    changed = np.zeros(n_lines * stride // WORD, dtype=np.uint64)  # bit map of pending
    weight = np.zeros(n_steps + 1, dtype=np.int64)  # units of each step; 0 beyond the window
    weight[:n_steps] = time_units
    # bound[j] (j >= 1): the events with step >= j, a prefix of the time-sorted events
    bound = np.zeros(n_steps + 1, dtype=np.int64)
    before = np.zeros(n_steps + 1, dtype=np.int64)  # bound at the previous block
    edges = np.empty(2 * n_steps + 2, dtype=np.int64)
    reciprocal = 1.0 / denominator
    hi = 0  # events with t_i < min(s, cut): [0, hi)
    for b in range(n_blocks):
        s = starts[b]
        limit = min(s, cut)
        old_hi = hi
        while hi < n and t[hi] < limit:
            hi += 1
        for j in range(1, n_steps + 1):
            before[j] = bound[j]
            edge = s - step_start[j]
            bound[j] += np.searchsorted(t[bound[j] : hi], edge, side="right")
        # Between consecutive edges of the old and new prefixes every event had the same
        # weight at the previous block (none from old_hi on) and has the same weight now:
        # add the difference, if any, for each such run of events.
        for j in range(1, n_steps + 1):
            edges[2 * j - 2] = before[j]
            edges[2 * j - 1] = bound[j]
        edges[2 * n_steps] = old_hi
        edges[2 * n_steps + 1] = hi
        _sort_small(edges, len(edges))
        for k in range(len(edges) - 1):
            first = edges[k]
            last = edges[k + 1]
            if first == last:
                continue
            was = 0 if first >= old_hi else weight[_steps_below(first, before)]
            delta = weight[_steps_below(first, bound)] - was
            if delta == 0:
                continue
            for i in range(first, last):
                where = spot[i]
                if where < 0:
                    continue
                changed[where // WORD] |= np.uint64(1) << np.uint64(_lanes_first(where))
                pending[where] += delta
        out_row = out[b]
        for ln in range(n_lines):
            # the changed cells of the line, word by word (a line is whole words), in each
            # word lane by lane (see _lanes_first)
            for word in range(ln * stride // WORD, (ln + 1) * stride // WORD):
                bits = changed[word]
                changed[word] = 0
                while bits:
                    at = _trailing_zeros(bits)  # bit 8 l + g: cell 8 g + l of the word
                    node = word * WORD + (at % LANES) * LANES + at // LANES
                    bits &= bits - np.uint64(1)
                    change = pending[node]
                    pending[node] = 0
                    if change == 0:
                        continue
                    if n_groups == 1:  # the rows written out
                        _add_one_group_stamp(field, node, stride, flat_stamp, change, size)
                        continue
                    for dy in range(size):
                        for g in range(n_groups):
                            _add_scaled(
                                field, node + dy * stride + g * LANES, flat_stamp,
                                (dy * n_groups + g) * LANES, change,
                            )  # fmt: skip
            r = ln - 2 * half  # stamps from later lines start below raster row r
            if r < 0:
                continue
            row_field = field[(r + 2 * half) * stride + 2 * half :]
            first = row_start[r]
            if row_start[r + 1] - first == n_cols:  # every cell of the row is active
                source = (r + 2 * half) * stride + 2 * half  # row_field's offset in field
                target = b * n_cells + first  # row_out's offset in out
                whole = n_cols - n_cols % LANES
                for c in range(0, whole, LANES):
                    _quotients(out, target + c, field, source + c, denominator, reciprocal)
                row_out = out_row[first : first + n_cols]
                for c in range(whole, n_cols):
                    row_out[c] = _divide(float(row_field[c]), denominator, reciprocal)
            else:
                for k in range(first, row_start[r + 1]):
                    out_row[k] = _divide(float(row_field[cell_col[k]]), denominator, reciprocal)
