"""numba kernels (private).

Each module holds small ``@njit`` kernels, a ``parallel=True`` driver that gives every
iteration its own output slot, and nothing else: validation and array preparation live in the
public modules, and every kernel has a plain-numpy twin in ``tests/naive.py``. Importing this
package compiles nothing; numba compiles a kernel on its first call.
"""
