"""Write files so that a failed write never damages or removes the file already there.

Every file caslite writes goes through :func:`atomic_path`: the writer writes a file of the
same name in a fresh temporary folder beside the target (same file system, so the final
:func:`os.replace` is atomic), the new file is flushed to disk (``fsync``), and only then
replaces the target. If anything fails before that (an unencodable column, a full disk, a
permission error, an interrupt), the temporary folder is removed and the old file is left
exactly as it was. A reader never sees a half-written file.

The file keeps its own name inside the temporary folder, so writers that look at the name
(matplotlib's format from the suffix, GDAL's GeoJSON layer name from the file name) write
the same bytes as they would to the target. A replaced file keeps the permission bits of
the file it replaces; a new file gets the usual ones (the process's umask).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
>>> write_text(path, "first")
>>> try:
...     with atomic_path(path) as temporary:
...         with open(temporary, "w") as handle:
...             _ = handle.write("second, never finished")
...         raise RuntimeError("the writer failed")
... except RuntimeError:
...     pass
>>> open(path).read(), sorted(os.listdir(os.path.dirname(path)))
('first', ['note.txt'])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

_TEMPORARY_PREFIX = ".caslite-tmp-"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to (re)write. Its folder must exist.

    Yields
    ------
    pathlib.Path
        A path with the same name as ``path`` in a new temporary folder beside it; the file
        does not exist yet. Write the whole file there.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a folder.
    FileNotFoundError
        If the writer did not create the temporary file.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the folder {str(folder)!r} does not exist; create it first (mkdir -p)."
        )
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name.")
    scratch = Path(tempfile.mkdtemp(prefix=_TEMPORARY_PREFIX, dir=folder))
    try:
        temporary = scratch / path.name
        yield temporary
        if not temporary.is_file():
            raise FileNotFoundError(f"nothing was written to {str(path)!r}.")
        _keep_mode(path, temporary)
        _fsync_file(temporary)
        os.replace(temporary, path)
        _fsync_folder(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def save_figure(figure, path, **kwargs) -> None:
    """Save a matplotlib figure to ``path`` atomically (format from the suffix)."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, **kwargs)


def _keep_mode(target: Path, temporary: Path) -> None:
    """Give the new file the permission bits of the file it replaces, if there is one."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    os.chmod(temporary, mode)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Flush the folder entry of the replaced file (not possible on every platform)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
