"""Measuring tools of the benchmark suite: timers, the floor, peak memory, agreement, machine.

Definitions (see ``benchmarks/README.md``):

- **best**: the shortest of ``repeats`` timed calls (``time.perf_counter``), after one warm-up
  call whose time is kept as the first-call time (it includes numba compilation when the
  kernels were not compiled yet in this process);
- **floor**: the best time to allocate the output array and write it once
  (``np.empty(shape, dtype)`` then ``out.fill(0.0)``), in the same process, so that
  ``best / floor`` says how far the case is from merely producing its output;
- **peak memory beyond the output**: the rise of the resident set during one (warm) call,
  minus the bytes of the returned output. Measured from ``/proc/self/status`` (``VmHWM``,
  the peak resident set) after resetting the peak with ``/proc/self/clear_refs``; falls back
  to ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` before and after where that is missing.
  ``tracemalloc`` is not used: it does not see the arrays numba allocates in the worker
  threads of parallel loops (NRT), as :func:`tracemalloc_sees_numba` checks.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024


# ---------------------------------------------------------------------- timing
def time_repeats(fn, repeats: int, keep_result: bool = False) -> dict:
    """Time ``repeats`` calls of an ``fn`` that is already warm (no warm-up call).

    Returns the fields of :func:`time_call` without ``first_call_s`` (and without
    ``result`` unless ``keep_result``: then the last call's output).
    """
    times, cpu_times = [], []
    out = None
    for _ in range(max(1, repeats)):
        del out
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    timing = {
        "best_s": min(times),
        "times_s": times,
        "best_cpu_s": min(cpu_times),
        "cpu_times_s": cpu_times,
    }
    if keep_result:
        timing["result"] = out
    return timing


def time_call(fn, repeats: int, warm_up: bool = True) -> dict:
    """Warm up ``fn`` once (first-call time), then time ``repeats`` calls; keep the best.

    With ``warm_up=False`` the first of the ``repeats`` (at least one) timed calls is also
    the first call (for a call of minutes whose kernels a fresh interpreter compiled).

    Returns
    -------
    dict
        ``first_call_s``, ``best_s``, ``times_s``, the CPU seconds of the process during each
        call (``cpu_times_s``, every thread; on a busy machine the least of them,
        ``best_cpu_s``, says what the call costs when the wall clock also counts waiting
        for a core) and the last ``result``.
    """
    if not warm_up:
        timing = time_repeats(fn, max(1, repeats), keep_result=True)
        return {"first_call_s": timing["times_s"][0], **timing}
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    times, cpu_times = [], []
    for _ in range(repeats):
        del result
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    return {
        "first_call_s": first,
        "best_s": min(times),
        "times_s": times,
        "best_cpu_s": min(cpu_times),
        "cpu_times_s": cpu_times,
        "result": result,
    }


def best_of(fn, repeats: int) -> float:
    """Best time of ``repeats`` calls of ``fn`` (no separate warm-up); results dropped."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return min(times)


def floor_time(shape, dtype, repeats: int) -> float:
    """Best time to allocate an array of ``shape`` and ``dtype`` and write it once."""
    return floor_times(shape, dtype, repeats)[0]


def floor_times(shape, dtype, repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds to allocate an array and write it once."""

    def write_once():
        out = np.empty(shape, dtype=dtype)
        out.fill(0.0)
        return out

    write_once()  # the first touch of fresh memory can be far slower on a VM; not the floor
    timing = time_repeats(write_once, repeats)
    return timing["best_s"], timing["best_cpu_s"]


# ---------------------------------------------------------------------- memory
def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the peak resident set (``VmHWM``) to the current one; False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _trim_heap() -> bool:
    """Give free heap memory back to the system (glibc ``malloc_trim``); False if unavailable.

    Without it a warm call reuses the pages the previous call freed, which are still
    resident, and its scratch memory does not show in the resident set.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def measure_peak(fn) -> tuple[object, dict]:
    """Call ``fn`` once and return its result and the rise of the resident set during it.

    The rise is ``VmHWM`` after the call minus ``VmRSS`` before it, with the peak reset just
    before the call (method ``"VmHWM"``); or the rise of ``ru_maxrss`` (method
    ``"ru_maxrss"``), which misses whatever stays below an earlier peak of the process.
    """
    gc.collect()
    trimmed = _trim_heap()
    ru_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = _reset_peak()
    rss_before = _status_kib("VmRSS")
    result = fn()
    hwm_after = _status_kib("VmHWM")
    rss_after = _status_kib("VmRSS")
    ru_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if reset and rss_before is not None and hwm_after is not None:
        rise, method = (hwm_after - rss_before) * KIB, "VmHWM"
        transient = (hwm_after - rss_after) * KIB
    else:
        rise, method = (ru_after - ru_before) * KIB, "ru_maxrss"
        transient = None
    peak = hwm_after if method == "VmHWM" else ru_after  # ru_maxrss: the process's lifetime peak
    return result, {
        "rise_bytes": int(rise),
        "peak_rss_bytes": int(peak * KIB),
        "transient_bytes": None if transient is None else int(transient),
        "method": method,
        "heap_trimmed": trimmed,
    }


def memory_row(rise: dict, output_bytes: int, cold_first_call_s=None, where="in-process"):
    """The memory fields of a result row.

    ``peak_beyond_output_bytes`` is the larger of two lower bounds: the peak rise minus the
    output's bytes (exact when the output is fully resident), and the peak minus the resident
    set after the call, output still alive (scratch freed before returning; exact when the
    output is only partly resident, e.g. zero pages never written). ``peak_rss_bytes`` is the
    whole process's peak resident set during the call (interpreter, libraries and the case's
    data included): the memory a machine needs to make the call, in a fresh interpreter.
    """
    beyond = rise["rise_bytes"] - int(output_bytes)
    if rise.get("transient_bytes") is not None:
        beyond = max(beyond, rise["transient_bytes"])
    return {
        "peak_rise_bytes": rise["rise_bytes"],
        "peak_rss_bytes": rise.get("peak_rss_bytes"),
        "transient_bytes": rise.get("transient_bytes"),
        "output_bytes": int(output_bytes),
        "peak_beyond_output_bytes": int(beyond),
        "method": rise["method"],
        "heap_trimmed": rise.get("heap_trimmed"),
        "where": where,
        "cold_first_call_s": cold_first_call_s,
    }


SHARED_ENV = "CASLITE_BENCHMARK_SHARED"
"""Environment variable naming the folder where one suite run keeps what its processes share."""


@contextlib.contextmanager
def shared_folder():
    """A temporary folder for one suite run, named in :data:`SHARED_ENV` for its children.

    The fresh interpreters of the memory measurement inherit it, so that what a case
    prepares untimed (a fitted model) is made once per run. Removed, and the variable
    restored, when the block ends.
    """
    previous = os.environ.get(SHARED_ENV)
    with tempfile.TemporaryDirectory(prefix="caslite-benchmarks-") as folder:
        os.environ[SHARED_ENV] = folder
        try:
            yield Path(folder)
        finally:
            if previous is None:
                os.environ.pop(SHARED_ENV, None)
            else:
                os.environ[SHARED_ENV] = previous


def made_once(key: str, make):
    """``make()``, or what an earlier process of the same suite run made for ``key``.

    Within a suite run (:func:`shared_folder`) the first process that needs ``key`` calls
    ``make`` and pickles the result; the others (the fresh interpreters of the memory
    measurement) load it. Outside a suite run it simply calls ``make``. Only for untimed
    preparation whose result is deterministic (a model fitted with a fixed seed).
    """
    folder = os.environ.get(SHARED_ENV)
    if not folder or not Path(folder).is_dir():
        return make()
    name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".pickle"
    path = Path(folder) / name
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    value = make()
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # complete files only
    return value


def memory_in_subprocess(case: str, profile: str, timeout: float = 900.0) -> dict:
    """Run ``python -m benchmarks.memory`` for one case in a fresh interpreter; its JSON."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    cmd = [sys.executable, "-m", "benchmarks.memory", "--case", case, "--profile", profile]
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"memory measurement of {case!r} failed (exit {done.returncode}):\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def parallel_launch() -> dict:
    """Time to run an empty-ish ``parallel=True`` numba function: the fixed cost of a launch.

    Every parallel kernel call pays it (three per near-repeat scoring call). On some virtual
    machines the OpenMP threading layer takes milliseconds here unless
    ``OMP_WAIT_POLICY=passive`` is set.
    """
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def total(a):
        s = 0.0
        for i in prange(a.size):
            s += a[i]
        return s

    a = np.ones(1024)
    total(a)
    times = []
    for _ in range(21):
        t0 = time.perf_counter()
        total(a)
        times.append(time.perf_counter() - t0)
    return {"best_s": min(times), "median_s": float(np.median(times))}


@contextlib.contextmanager
def competing_load(n_processes: int):
    """Run ``n_processes`` busy-loop processes (one per core: a machine with other work) inside.

    Each is a fresh interpreter spinning ``while True: pass`` at the normal priority; they are
    terminated (by their own process ids) when the block ends, also on an error. With 0 the
    block runs on a quiet machine (as quiet as it is). Yields the list of processes.
    """
    procs = []
    try:
        for _ in range(max(0, int(n_processes))):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", "while True: pass"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(0.5 if procs else 0.0)  # let them reach the CPU
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def tracemalloc_sees_numba() -> dict:
    """Whether ``tracemalloc`` sees arrays numba allocates, on the main thread and in ``prange``.

    With numba 0.68 the NRT allocates through Python's raw allocator, so ``tracemalloc``
    sees an array allocated in a plain ``@njit`` function, but not one allocated by the
    worker threads of a ``parallel=True`` loop: it would under-count the kernels' scratch
    rows. The suite therefore measures the resident set instead.
    """
    from numba import njit, prange

    @njit(cache=False)
    def serial(n):
        return np.ones(n).sum()

    @njit(parallel=True, cache=False)
    def parallel(n, k):
        sums = np.zeros(k)
        for i in prange(k):
            sums[i] = np.ones(n).sum()
        return sums.sum()

    serial(1)
    parallel(1, 2)
    n = 4_000_000  # 32 MB an array
    seen = {}
    for name, fn, args in [("serial", serial, (n,)), ("parallel", parallel, (n, 2))]:
        tracemalloc.start()
        try:
            fn(*args)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        seen[name] = bool(peak >= n * 8 // 2)
    return seen


# ---------------------------------------------------------------------- agreement
def agreement(fast, twin, rtol: float, atol: float) -> dict:
    """Compare the fast result with the twin's: ``|fast - twin| <= atol + rtol |twin|``."""
    fast = np.asarray(fast, dtype=np.float64)
    twin = np.asarray(twin, dtype=np.float64)
    if fast.shape != twin.shape:
        return {
            "agree": False,
            "detail": f"shape {fast.shape} != twin shape {twin.shape}",
            "max_abs_err": None,
            "max_rel_err": None,
            "rtol": rtol,
            "atol": atol,
        }
    err = np.abs(fast - twin)
    scale = np.abs(twin)
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
    ok = bool(np.all(err <= atol + rtol * scale))
    worst = int(np.argmax(err - rtol * scale)) if err.size else 0
    return {
        "agree": ok,
        "detail": (
            "ok"
            if ok
            else f"worst at flat index {worst}: fast {fast.ravel()[worst]!r}, "
            f"twin {twin.ravel()[worst]!r}"
        ),
        "max_abs_err": float(err.max()) if err.size else 0.0,
        "max_rel_err": float(rel.max()) if rel.size else 0.0,
        "nonzero_twin_values": int(np.count_nonzero(twin)),
        "rtol": rtol,
        "atol": atol,
    }


# ---------------------------------------------------------------------- machine
def machine() -> dict:
    """Cores, numba threads, library versions and memory of this machine."""
    import numba

    import caslite

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel function has run yet
        layer = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "numba_threads": numba.get_num_threads(),
        "numba_num_threads_config": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": layer,
        "memory_bytes": total,
        "env": {
            k: os.environ.get(k)
            for k in ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY")
        },
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "caslite": caslite.__version__,
    }


# ---------------------------------------------------------------------- formatting
def fmt_seconds(s) -> str:
    """``0.0123`` -> ``"12.3 ms"``."""
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_bytes(b) -> str:
    """``1.5e9`` -> ``"1.4 GiB"``; negative values (measurement noise) shown as such."""
    if b is None:
        return "–"
    sign = "-" if b < 0 else ""
    b = abs(b)
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if b < 1024 or unit == "GiB":
            return f"{sign}{b:.3g} {unit}" if unit != "B" else f"{sign}{b:.0f} B"
        b /= 1024
    return f"{sign}{b:.3g} GiB"


def fmt_rate(r) -> str:
    """``2.3e9`` -> ``"2.3e9"``."""
    return "–" if r is None else f"{r:.3g}"
