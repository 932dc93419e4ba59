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
"""

JIT_OPTIONS = {"cache": True}
"""Options shared by every ``@njit`` of the package (``parallel=True`` is added per kernel)."""
