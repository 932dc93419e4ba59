"""numba kernels (private).

Each module holds small ``@njit`` kernels, a ``parallel=True`` driver that gives every
iteration its own output slot, and nothing else: validation and array preparation live in the
public modules, and every kernel has a plain-numpy twin in ``tests/naive.py``. Importing this
package compiles nothing; numba compiles a kernel on its first call.

Every kernel is decorated with :data:`JIT_OPTIONS`, the one switch for all of them. Compiled
machine code is cached on disk (``cache=True``), so that only the first process on a machine
pays for compilation: numba writes the cache to ``__pycache__`` beside these files, or, when
the package folder is read-only, to a user-wide folder (``~/.cache/numba`` or
``$NUMBA_CACHE_DIR`` when set). numba's caching caveats hold here by design: a cached kernel
calls only kernels of its own file (numba does not notice edits in other files) and reads no
module-level value other than constants (globals are frozen at compile time); no kernel takes
a function as an argument. ``parallel=True`` kernels are cacheable.

:func:`threads_for` is the other switch: the public functions run small workloads of the
parallel kernels on one thread, decided per call.
"""

from contextlib import contextmanager

JIT_OPTIONS = {"cache": True}
"""Options shared by every ``@njit`` of the package (``parallel=True`` is added per kernel)."""

SERIAL_WORK = 10_000_000
"""Work (inner-loop steps) below which a ``parallel=True`` kernel runs on one thread."""


@contextmanager
def threads_for(work: float):
    """Run the ``parallel=True`` kernels called inside on one thread when ``work`` is small.

    Waking the other threads of a parallel region costs microseconds on an idle machine but
    milliseconds when the other cores are busy (a median of 15 ms per launch with numba's
    OpenMP layer on a loaded 2-core machine, 10 us on one thread): more than a small kernel
    takes. Below :data:`SERIAL_WORK` steps (about 10-30 ms on one thread, the break-even
    with two threads and one such wait) the kernels run on the calling thread alone. The
    choice is made per call with ``numba.set_num_threads``, which is local to the calling
    thread, and undone on exit; nothing is set at import time, and a number of threads the
    caller chose (``numba.set_num_threads``, ``NUMBA_NUM_THREADS``) is only ever lowered to
    one, never raised.

    Parameters
    ----------
    work : float
        Estimated inner-loop steps of the kernel calls inside (e.g. footprint entries x
        blocks).

    Examples
    --------
    >>> import numba
    >>> with threads_for(10):
    ...     numba.get_num_threads()
    1
    """
    if work >= SERIAL_WORK:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    if previous == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
