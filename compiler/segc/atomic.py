"""Replace a file in one step: readers see the old text or the new, never half.

Used for every file segc rewrites (manifests, installed plugins, formatted
sources). The new file keeps the mode of the file it replaces; a file that did
not exist gets the mode ``open()`` would give it (0666 less the umask), not
``mkstemp``'s private 0600.
"""

from __future__ import annotations

import os
import stat
import tempfile


def default_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str, text: str, newline: str | None = "\n") -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder.
    ``newline`` as for ``open()``: ``""`` writes line ends as they are."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".segc-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = default_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
