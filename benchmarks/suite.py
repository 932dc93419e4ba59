"""Run the cases of a profile and collect one row per case; format the rows as a table."""

from __future__ import annotations

import datetime as _dt
import gc
import resource
import sys
import time
import traceback

from benchmarks import etas as etas_cases
from benchmarks import harness
from benchmarks import knox as knox_cases
from benchmarks import nearrepeat as nearrepeat_cases
from benchmarks import risk as risk_cases
from benchmarks.cases import Target
from benchmarks.profiles import PROFILES

ROW_FIELDS = ("name", "group", "workload", "timing", "throughput", "floor", "twin", "memory",
              "checks", "targets")  # fmt: skip


def all_cases() -> list:
    """Every case, in the order they run."""
    return [*nearrepeat_cases.CASES, *knox_cases.CASES, *risk_cases.CASES, *etas_cases.CASES]


def select(only=None) -> list:
    """The cases named in ``only`` (names or groups, e.g. ``"city"``); all by default."""
    cases = all_cases()
    if not only:
        return cases
    wanted = [w for item in only for w in str(item).split(",") if w]
    names = {c.name for c in cases} | {c.group for c in cases}
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ValueError(
            f"unknown case {unknown}; choose from {sorted(c.name for c in cases)} or a group "
            f"{sorted({c.group for c in cases})}."
        )
    return [c for c in cases if c.name in wanted or c.group in wanted]


def get_case(name: str):
    """The case called ``name``."""
    for case in all_cases():
        if case.name == name:
            return case
    raise KeyError(name)


def _unavailable(case, profile) -> str | None:
    """Why ``case`` cannot run here (a module or a data file is missing), or None."""
    if case.group == "knox":
        return knox_cases.unavailable()
    if case.group == "risk":
        return risk_cases.unavailable(case.name, profile)
    if case.group == "etas":
        return etas_cases.unavailable()
    return None


# A kernel must never be slower than its plain-numpy twin, also on a busy machine (the risk
# model's twins are reported, not held to a target).
AT_LEAST_TWIN = Target("twin_speedup", 1.0, "≥ 1× twin")


def _twin_targets(case) -> tuple:
    """The case's targets, plus "at least as fast as the twin" where it has no twin target."""
    if case.group == "risk" or any(t.quantity == "twin_speedup" for t in case.targets):
        return tuple(case.targets)
    return (*case.targets, AT_LEAST_TWIN)


def _loaded_targets(case) -> tuple:
    """Targets held under a competing load: the twin's, as "at least as fast" (reported:
    every other target, see :func:`_measure_loaded`)."""
    if case.group == "risk":
        return ()
    return (AT_LEAST_TWIN,)


def _measure_loaded(case, prep, profile, n_processes, row, log) -> dict:
    """Time ``prep`` again (best, floor, twin) with ``n_processes`` busy-loop processes.

    Every quiet target is evaluated again on these figures and reported; the twin target is
    held ("at least as fast as the twin", :data:`AT_LEAST_TWIN`) and the twin must still
    agree.
    """
    repeats = max(1, min(prep.repeats, 3))
    with harness.competing_load(n_processes):
        log(f"[{case.name}] with a competing load ({n_processes} busy-loop processes): "
            f"{repeats} repeats (warm already)")  # fmt: skip
        timing = harness.time_repeats(prep.run, repeats)
        gc.collect()
        floor = None
        if prep.floor_shape is not None:
            floor_s, floor_cpu = harness.floor_times(prep.floor_shape, prep.floor_dtype, repeats)
            floor = {
                "best_s": floor_s,
                "ratio": timing["best_s"] / floor_s,
                "best_cpu_s": floor_cpu,
                "cpu_ratio": timing["best_cpu_s"] / floor_cpu if floor_cpu > 0 else None,
            }
        log(f"[{case.name}] numpy twin on the small workload, with the competing load")
        twin = (prep.twin_loaded or prep.twin)()
    figures = {**row, "timing": timing, "floor": floor, "twin": twin}
    return {
        "processes": n_processes,
        "timing": timing,
        "floor": floor,
        "twin": twin,
        "targets": [{**t.check(figures), "enforced": False} for t in case.targets]
        + [{**t.check(figures), "enforced": profile.assert_targets} for t in _loaded_targets(case)],
    }


def run_case(case, profile, log=print, loaded=0) -> dict:
    """Measure one case: timing, throughput, floor, twin, memory, checks and targets.

    With ``loaded`` > 0 the timing, floor and twin are measured a second time with that many
    busy-loop processes running (``row["loaded"]``, with its own ``duration``).
    ``row["duration"]`` holds the case's own wall and CPU seconds (the fresh interpreter of
    the memory measurement included).
    """
    row = {"name": case.name, "group": case.group, "description": case.description}
    reason = _unavailable(case, profile)
    if reason:
        log(f"SKIP {case.name}: {reason}")
        return {**row, "skipped": reason}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    child_cpu = 0.0
    try:
        log(f"[{case.name}] building the workload")
        prep = case.prepare(profile)
        row["workload"] = prep.workload

        memory = None
        if profile.memory == "subprocess":
            log(f"[{case.name}] peak memory and cold first call in a fresh interpreter")
            before = _children_cpu()
            memory = harness.memory_in_subprocess(case.name, profile.name)
            child_cpu = _children_cpu() - before
            prep.reference_fingerprint = memory.pop("fingerprint", None)

        warm_up = prep.warm_up or memory is None  # no cold call elsewhere: warm up here
        log(f"[{case.name}] timing: {'warm-up + ' if warm_up else ''}{prep.repeats} repeats")
        timing = harness.time_call(prep.run, prep.repeats, warm_up=warm_up)
        result = timing.pop("result")
        row["timing"] = timing
        row["throughput"] = {
            "value": prep.work(result) / timing["best_s"],
            "unit": prep.unit,
            "work": prep.work(result),
        }
        checks = prep.checks(result)
        output_bytes = prep.output_bytes(result)
        del result
        gc.collect()

        if memory is None:
            result, rise = harness.measure_peak(prep.run)
            del result
            memory = harness.memory_row(rise, output_bytes)
        row["memory"] = memory

        if prep.floor_shape is not None:
            floor_s, floor_cpu = harness.floor_times(
                prep.floor_shape, prep.floor_dtype, prep.repeats
            )
            row["floor"] = {
                "best_s": floor_s,
                "ratio": timing["best_s"] / floor_s,
                "best_cpu_s": floor_cpu,
                "cpu_ratio": timing["best_cpu_s"] / floor_cpu if floor_cpu > 0 else None,
                "shape": list(prep.floor_shape),
                "dtype": str(prep.floor_dtype),
            }
        else:
            row["floor"] = None
        gc.collect()

        log(f"[{case.name}] numpy twin on the small workload")
        twin = prep.twin()
        row["twin"] = twin
        checks.append(
            {
                "name": "agrees with the numpy twin",
                "passed": bool(twin["agree"]),
                "detail": f"{twin['detail']} (max rel err {twin['max_rel_err']:.2g}, "
                f"rtol {twin['rtol']:g})",
            }
        )
        row["checks"] = checks
        row["targets"] = [
            {**target.check(row), "enforced": profile.assert_targets}
            for target in _twin_targets(case)
        ]
        if loaded:
            loaded_wall, loaded_cpu = time.perf_counter(), time.process_time()
            row["loaded"] = _measure_loaded(case, prep, profile, loaded, row, log)
            row["loaded"]["duration"] = {
                "wall_s": time.perf_counter() - loaded_wall,
                "cpu_s": time.process_time() - loaded_cpu,
            }
            twin = row["loaded"]["twin"]
            checks.append(
                {
                    "name": "agrees with the numpy twin (competing load)",
                    "passed": bool(twin["agree"]),
                    "detail": f"{twin['detail']} (max rel err {twin['max_rel_err']:.2g})",
                }
            )
    except Exception as exc:  # a broken case is a failure of the run, reported with the rest
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc()
        log(f"ERROR in {case.name}: {row['error']}")
    row["duration"] = {
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0 + child_cpu,
        "memory_subprocess_cpu_s": child_cpu,
    }
    return row


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _case_summary(row) -> str:
    """One line on a finished case, logged as soon as it ends (a long run cut off keeps it)."""
    if "skipped" in row or "error" in row:
        return f"[{row['name']}] done: {row.get('skipped') or row.get('error')}"
    checks = "agrees" if all(c["passed"] for c in row["checks"]) else "DISAGREES"
    marks = {True: "pass", False: "FAIL", None: "n/a"}
    targets = "; ".join(
        f"{t['label']}: {t['value']:.4g} {marks[t['passed']]}"
        if isinstance(t["value"], float | int)
        else f"{t['label']}: {marks[t['passed']]}"
        for t in row["targets"]
    )
    best = harness.fmt_seconds(row["timing"]["best_s"])
    return f"[{row['name']}] done: best {best}, {checks}; {targets or 'no targets'}"


def summarize(rows) -> dict:
    """Overall verdict: correctness failures, target failures, skipped cases."""
    wrong, missed = [], []
    for row in rows:
        if "skipped" in row:
            continue
        if "error" in row:
            wrong.append(f"{row['name']}: {row['error']}")
            continue
        wrong += [f"{row['name']}: {c['name']} ({c['detail']})" for c in row["checks"]
                  if not c["passed"]]  # fmt: skip
        missed += [f"{row['name']}: {t['label']} (got {t['value']!r})" for t in row["targets"]
                   if t["enforced"] and t["passed"] is False]  # fmt: skip
        missed += [f"{row['name']}: {t['label']} with a competing load (got {t['value']!r})"
                   for t in row.get("loaded", {}).get("targets", [])
                   if t["enforced"] and t["passed"] is False]  # fmt: skip
    return {
        "correct": not wrong,
        "targets_met": not missed,
        "correctness_failures": wrong,
        "target_failures": missed,
        "skipped": {row["name"]: row["skipped"] for row in rows if "skipped" in row},
    }


def idle_estimate(rows, cpu_s: float, cores: int) -> float:
    """Seconds the run would take on an idle machine, estimated from its CPU seconds.

    Every CPU second counts as a second of wall time (as if nothing ran in parallel: an
    upper bound for the quiet parts), except in the passes with a competing load, where the
    case shares ``cores`` cores with one busy-loop process per core and so gets
    ``cores / (cores + 1)`` of a core: their CPU seconds count ``(cores + 1) / cores``
    times, plus the half second the busy processes are given to start. On a busy machine
    the wall clock measures the other work as well; this estimate does not.
    """
    loaded = [row["loaded"]["duration"] for row in rows if "duration" in row.get("loaded", {})]
    loaded_cpu = sum(d["cpu_s"] for d in loaded)
    cores = max(int(cores or 1), 1)
    return cpu_s - loaded_cpu + loaded_cpu * (cores + 1) / cores + 0.5 * len(loaded)


def run_suite(profile="full", only=None, log=None, load=0, loaded=0) -> dict:
    """Run the suite and return its results (``machine``, ``cases``, ``summary``).

    Parameters
    ----------
    profile : {"full", "smoke"}
        Workload sizes (see :mod:`benchmarks.profiles`).
    only : sequence of str, optional
        Case names or groups to run; default every case.
    log : callable, optional
        Progress messages (default: to stderr).
    load : int
        Busy-loop processes run alongside the whole suite (e.g. one per core: the machine
        is busy with other work, as shared machines are); 0 for none.
    loaded : int
        Measure every case a second time (timing, floor, twin) with this many busy-loop
        processes running, after its quiet measurement; 0 for no second measurement.
    """
    if log is None:

        def log(message):
            print(message, file=sys.stderr, flush=True)

    prof = PROFILES[profile]
    cases = select(only)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = []
    with harness.shared_folder(), harness.competing_load(load) as busy:
        n_busy = len(busy)
        if n_busy:
            log(f"competing load: {n_busy} busy-loop processes")
        for case in cases:
            rows.append(run_case(case, prof, log, loaded=loaded))
            log(_case_summary(rows[-1]))
        machine = harness.machine()
        machine["parallel_launch"] = harness.parallel_launch()
    machine["competing_load_processes"] = n_busy
    machine["second_pass_load_processes"] = loaded
    children = sum(row.get("duration", {}).get("memory_subprocess_cpu_s", 0.0) for row in rows)
    machine["tracemalloc_sees_numba_allocations"] = harness.tracemalloc_sees_numba()
    cpu_s = time.process_time() - cpu0 + children
    return {
        "suite": "caslite benchmarks",
        "profile": profile,
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": time.perf_counter() - t0,
        "cpu_s": cpu_s,
        "idle_estimate_s": idle_estimate(rows, cpu_s, machine["usable_cores"]),
        "machine": machine,
        "cases": rows,
        "summary": summarize(rows),
    }


# ---------------------------------------------------------------------- table
HEADER = [
    "case", "workload", "best", "first call (in-proc / cold)", "throughput", "floor",
    "× floor", "twin → fast (small)", "speed-up", "agrees", "peak beyond output", "targets",
]  # fmt: skip


def _floor_ratio(floor) -> str:
    """``best / floor`` in wall time, and in CPU time in brackets (what a busy machine
    does not distort)."""
    if not floor:
        return "–"
    cpu = floor.get("cpu_ratio")
    return f"{floor['ratio']:.2f}" + (f" ({cpu:.2f} CPU)" if cpu is not None else "")


def _row_cells(row, profile) -> list:
    f = harness
    if "skipped" in row:
        return [row["name"], f"SKIPPED: {row['skipped']}"] + [""] * (len(HEADER) - 2)
    if "error" in row:
        return [row["name"], f"ERROR: {row['error']}"] + [""] * (len(HEADER) - 2)
    timing, twin, mem, floor = row["timing"], row["twin"], row["memory"], row["floor"]
    cold = mem.get("cold_first_call_s")
    first = f"{f.fmt_seconds(timing['first_call_s'])} / {f.fmt_seconds(cold)}"
    agrees = "yes" if all(c["passed"] for c in row["checks"]) else "**NO**"
    agrees += f" ({twin['max_rel_err']:.1g})"
    if profile == "smoke":
        targets = "not checked (smoke)"
    else:
        marks = {True: "pass", False: "**FAIL**", None: "n/a"}
        targets = "; ".join(f"{t['label']} {marks[t['passed']]}" for t in row["targets"])
    return [
        row["name"],
        row["workload"]["summary"] + (f", {row['workload']['method']}"
                                      if "method" in row["workload"] else ""),
        f.fmt_seconds(timing["best_s"]),
        first,
        f"{f.fmt_rate(row['throughput']['value'])} {row['throughput']['unit']}",
        f.fmt_seconds(floor["best_s"]) if floor else "–",
        _floor_ratio(floor),
        f"{f.fmt_seconds(twin['twin_s'])} → {f.fmt_seconds(twin['fast_s'])}",
        f"{twin['speedup']:,.0f}×",
        agrees,
        f.fmt_bytes(max(0, mem["peak_beyond_output_bytes"])),
        targets,
    ]  # fmt: skip


LOADED_HEADER = ["case", "best", "× floor", "twin → fast (small)", "speed-up", "targets",
                 "case wall / CPU"]  # fmt: skip


def _loaded_cells(row, profile) -> list:
    f = harness
    loaded, duration = row["loaded"], row["duration"]
    floor, twin = loaded["floor"], loaded["twin"]
    marks = {True: "pass", False: "**FAIL**", None: "n/a"}
    targets = "; ".join(
        f"{t['label']} {marks[t['passed']]}" + ("" if t["enforced"] else " (reported)")
        for t in loaded["targets"]
    )
    return [
        row["name"],
        f.fmt_seconds(loaded["timing"]["best_s"]),
        _floor_ratio(floor),
        f"{f.fmt_seconds(twin['twin_s'])} → {f.fmt_seconds(twin['fast_s'])}",
        f"{twin['speedup']:,.0f}×",
        targets if profile != "smoke" else "not checked (smoke)",
        f"{duration['wall_s']:.0f} s / {duration['cpu_s']:.0f} s",
    ]


def format_table(results) -> str:
    """The results as a markdown table, with the machine and the verdict below it.

    When the cases were measured a second time with a competing load, a second table gives
    those figures and targets.
    """
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in results["cases"]:
        lines.append("| " + " | ".join(_row_cells(row, results["profile"])) + " |")
    m = results["machine"]
    loaded_rows = [row for row in results["cases"] if "loaded" in row]
    if loaded_rows:
        n = m.get("second_pass_load_processes", 0)
        lines += ["", f"With a competing load ({n} busy-loop processes, one per core):", ""]
        lines += ["| " + " | ".join(LOADED_HEADER) + " |", "|" + "---|" * len(LOADED_HEADER)]
        for row in loaded_rows:
            lines.append("| " + " | ".join(_loaded_cells(row, results["profile"])) + " |")
    lines.append("")
    cpu = f" ({results['cpu_s']:.0f} s CPU)" if "cpu_s" in results else ""
    if results.get("idle_estimate_s") is not None:
        cpu += f", about {results['idle_estimate_s']:.0f} s on an idle machine (from CPU time)"
    lines.append(
        f"profile {results['profile']}, {results['duration_s']:.0f} s{cpu}; {m['cpu']}, "
        f"{m['usable_cores']} cores, numba {m['numba']} ({m['numba_threads']} threads, "
        f"{m['numba_threading_layer']}), numpy {m['numpy']}, Python {m['python']}; "
        f"parallel launch {harness.fmt_seconds(m['parallel_launch']['median_s'])} (median); "
        f"OMP_WAIT_POLICY={m['env']['OMP_WAIT_POLICY']}; "
        f"competing load: {m.get('competing_load_processes', 0)} busy-loop processes"
    )
    s = results["summary"]
    lines.append(f"correct: {'yes' if s['correct'] else 'NO'}")
    for failure in s["correctness_failures"]:
        lines.append(f"  CORRECTNESS FAILURE {failure}")
    if results["profile"] != "smoke":
        lines.append(f"targets met: {'yes' if s['targets_met'] else 'NO'}")
        for failure in s["target_failures"]:
            lines.append(f"  TARGET MISSED {failure}")
    for name, reason in s["skipped"].items():
        lines.append(f"skipped {name}: {reason}")
    return "\n".join(lines)
