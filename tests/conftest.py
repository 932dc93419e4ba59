"""Fixtures shared by the test files.

The thread settings of parallel test workers live in the ``conftest.py`` at the top of the
checkout (they cover the doctests and the notebooks as well).
"""
