"""Benchmarks of caslite's hot loop: ``python -m benchmarks`` (see ``benchmarks/README.md``).

Cases time near-repeat scoring (:mod:`caslite.nearrepeat`) and the Knox test against the
floor (writing the output once) and against plain-numpy twins, and record peak memory.
"""

from benchmarks.suite import format_table, run_suite

__all__ = ["format_table", "run_suite"]
