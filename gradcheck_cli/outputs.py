"""Every file gradcheck writes (--junit-xml, --save-params, --plot): whole or
not at all, and only where it was asked to.

A file is written to a temporary file beside its destination and renamed
over it. A failed or interrupted write (a full disk, Ctrl-C, --timeout)
leaves what was there before, never half a file a CI step then cannot
parse; and the rename replaces a symbolic link at the destination instead
of writing through it (a link committed in a repository must not make
gradcheck overwrite a file outside it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import zipfile
from typing import BinaryIO, Callable

import numpy as np

from .errors import OutputError


# Where a link names a stream rather than a file: /dev/stdout, /dev/fd/63
# (a shell's process substitution), /proc/self/fd/1. Such a link is the
# user's way of saying "write to this stream", never a file to replace.
_STREAM_TREES = ("/dev/", "/proc/")


def in_place(path: str) -> bool:
    """Whether ``path`` is written in place rather than replaced: a device,
    a pipe or a socket (/dev/null, a FIFO a CI step reads), or a link to
    one or into /dev or /proc (/dev/stdout). These have no "whole file" to
    replace, and replacing them would be wrong. Any other link is replaced,
    not followed."""
    if _names_a_stream(os.path.abspath(path)):
        return True
    try:
        target = os.stat(path)  # (follows links)
    except OSError:
        return False  # nothing there, or a dangling link: a new file
    return not (stat.S_ISREG(target.st_mode) or stat.S_ISDIR(target.st_mode))


def _names_a_stream(path: str) -> bool:
    """Whether ``path``, or a link on the way from it, is in /dev or /proc.
    Hop by hop, not realpath(): /dev/stdout -> /proc/self/fd/1 -> report.txt
    (stdout redirected to a file) resolves to a regular file, and the link
    in /dev must still not be replaced."""
    for _ in range(40):  # (the kernel's own limit on a chain of links)
        if path.startswith(_STREAM_TREES):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return False


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` with ``write(stream)``: whole, or not at all (unless it
    is written ``in_place``)."""
    if in_place(path):
        with open(path, "wb") as stream:
            write(stream)
        return
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        existing = None
    # A replaced regular file keeps its permissions; a new file (or one
    # replacing a link) gets what open() would have given it, not mkstemp's 0600.
    mode = stat.S_IMODE(existing.st_mode) if existing is not None and stat.S_ISREG(existing.st_mode) \
        else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=".gradcheck-", suffix=".tmp",
                                         dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())  # (a full disk shows here at the latest, before the rename)
        os.chmod(temporary, mode)
        try:
            os.replace(temporary, path)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            # A file bind-mounted at the destination (docker -v out.xml:/app/out.xml)
            # cannot be renamed over; it is written in place, as before.
            with open(temporary, "rb") as source, open(path, "wb") as stream:
                shutil.copyfileobj(source, stream)
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, for
    a moment, for every thread: a Dask client's, a timer's)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_arrays(stream: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """An .npz of ``arrays`` under exactly their names, which np.load gives
    back as its keys. np.savez takes the names as keyword arguments, so a
    block named ``file`` breaks the call and one named ``allow_pickle`` is
    taken for the option; this writes the same format (a zip of .npy files)
    with no name reserved."""
    for name in arrays:
        # A zip member's name ends at a NUL and holds at most 65535 bytes:
        # such a block could not be read back under its name.
        if "\0" in name or len((name + ".npy").encode("utf-8", "surrogatepass")) > 0xFFFF:
            raise ValueError(f"the block name {name[:60]!r}{'…' if len(name) > 60 else ''} cannot name an array "
                             "in an .npz (a NUL character, or longer than 65531 bytes)")
    with zipfile.ZipFile(stream, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def write_params(path: str, params: dict[str, np.ndarray]) -> None:
    """The parameters a check ran at, as an .npz that --params reads back
    (keys = block names)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"--save-params {path}: the directory {directory} does not exist")
    try:
        write_atomically(path, lambda stream: save_arrays(stream, params))
    except OSError as exc:
        raise OutputError(f"--save-params {path}: cannot write it: {exc.strerror or exc}") from None
    except UnicodeEncodeError as exc:  # (a name with a lone surrogate cannot name a zip member)
        raise OutputError(f"--save-params {path}: a block name cannot be stored in an .npz: "
                          f"{exc.object!r}") from None
    except ValueError as exc:
        raise OutputError(f"--save-params {path}: {exc}") from None
