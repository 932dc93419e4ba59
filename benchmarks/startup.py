"""``python -m benchmarks.startup``: start-up costs a user pays once per process.

- **import**: ``python -c "import caslite"`` and ``caslite --help`` (as ``python -m
  caslite.cli --help``), each the best (minimum) wall time of ``--repeats`` fresh
  interpreters, next to ``python -c "pass"`` (the interpreter alone);
- **compile**: a small forecast (``caslite forecast --sample toronto`` on a 2-day horizon) and
  a Knox test (``knox_test`` on the Toronto sample, 99 permutations), each run in two fresh
  interpreters one after the other, sharing a new, empty numba cache folder
  (``NUMBA_CACHE_DIR``): the first process compiles the kernels and writes the cache, the
  second loads them. Reported per process: the wall and CPU time (user + system, of the
  child), and the time numba spent compiling (its ``numba:compile`` events, outermost only)
  and compiling or loading from the cache (``numba:compiler_lock``).

Prints a markdown table; ``--out FILE`` also writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the child: the workload, with numba's compile timers, and print the numbers.
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from numba.core import event
compile_s, lock_s = [], []
with event.install_timer("numba:compile", compile_s.append), \
        event.install_timer("numba:compiler_lock", lock_s.append):
    exec(sys.argv[1])
print(json.dumps({"compile_s": sum(compile_s), "compile_or_load_s": sum(lock_s),
                  "in_process_s": time.perf_counter() - t0}))
"""

WORKLOADS = {
    "forecast": (
        "import contextlib, io, tempfile\n"
        "from caslite.cli import main\n"
        "with tempfile.TemporaryDirectory() as out, contextlib.redirect_stderr(io.StringIO()):\n"
        "    code = main(['forecast', '--sample', 'toronto', '--horizon', '2D',\n"
        "                 '--max-negatives', '20000', '--n-bags', '1', '--format', 'csv',\n"
        "                 '--out', out, '-q'])\n"
        "assert code == 0, code"
    ),
    "knox_test": (
        "import warnings\n"
        "from caslite.datasets import load_sample\n"
        "from caslite.knox import knox_test\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    events = load_sample('toronto').to_events(duplicates='drop')\n"
        "knox_test(events, n_permutations=99, random_state=0, progress=False)"
    ),
}


def _env(**extra) -> dict:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def _run(argv, env) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system) of the child, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def import_times(repeats: int) -> dict:
    """Best wall time of ``repeats`` fresh interpreters for each start-up command."""
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import caslite": [sys.executable, "-c", "import caslite"],
        "caslite --help": [sys.executable, "-m", "caslite.cli", "--help"],
        "caslite forecast --help": [sys.executable, "-m", "caslite.cli", "forecast", "--help"],
    }
    env = _env()
    result = {}
    for name, argv in commands.items():
        runs = [_run(argv, env) for _ in range(repeats)]
        result[name] = {
            "best_s": min(w for w, _, _ in runs),
            "cpu_best_s": min(c for _, c, _ in runs),
        }
    return result


def compile_times(workloads) -> dict:
    """First and second process of each workload on a new, shared numba cache folder."""
    result = {}
    for name in workloads:
        with tempfile.TemporaryDirectory(prefix="caslite-numba-cache-") as cache:
            env = _env(NUMBA_CACHE_DIR=cache)
            rows = []
            for _ in range(2):
                wall, cpu, stdout = _run([sys.executable, "-c", _CHILD, WORKLOADS[name]], env)
                rows.append({"wall_s": wall, "cpu_s": cpu, **json.loads(stdout.splitlines()[-1])})
            result[name] = {"first_process": rows[0], "second_process": rows[1]}
    return result


def format_table(results) -> str:
    lines = ["| start-up | best wall | CPU |", "|---|---|---|"]
    for name, row in results["import"].items():
        lines.append(f"| `{name}` | {row['best_s']:.3f} s | {row['cpu_best_s']:.3f} s |")
    lines += [
        "",
        "| workload | process | wall | CPU | numba compiling | compiling or loading |",
        "|---|---|---|---|---|---|",
    ]
    for name, pair in results["compile"].items():
        for which, row in pair.items():
            lines.append(
                f"| {name} | {which.replace('_', ' ')} | {row['wall_s']:.2f} s | "
                f"{row['cpu_s']:.2f} s | {row['compile_s']:.2f} s | "
                f"{row['compile_or_load_s']:.2f} s |"
            )
    load = results["load_average"]
    lines.append("")
    lines.append(f"load average before / after: {load[0]} / {load[1]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="fresh interpreters per command")
    parser.add_argument(
        "--only",
        choices=["import", "compile"],
        help="measure only the import times or only the compile times",
    )
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    before = os.getloadavg()
    results = {"import": {}, "compile": {}}
    if args.only != "compile":
        results["import"] = import_times(args.repeats)
    if args.only != "import":
        results["compile"] = compile_times(list(WORKLOADS))
    after = os.getloadavg()
    results["load_average"] = [round(before[0], 2), round(after[0], 2)]
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
