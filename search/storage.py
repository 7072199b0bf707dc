"""Index files mapped read-only and shared between processes, never copied into private memory.

whoosh3 (3.54) maps a segment's compound file, then wraps every sub-file in a ``BufferFile``
whose ``BytesIO(memoryview)`` copies the slice: each searching process held its own copy of the
whole index (470 MiB more per process at 15,000 essays). Here every file, and every sub-file of a
compound file, is its own read-only ``mmap`` (the page cache, shared by all processes), and reads
go straight to that map in C, as fast as Whoosh's ``BytesIO``.

A sub-file's map must start on a page boundary, so it begins up to one page before the sub-file
and every position is shifted by that delta.
"""

from __future__ import annotations

import mmap
import os
from array import array
from io import BytesIO

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import _SIZEMAP, StructFile
from whoosh.system import IS_LITTLE

_GRANULARITY = mmap.ALLOCATIONGRANULARITY


class _Descriptor:
    """An open file descriptor, closed when the last file mapped from it is gone.

    Sub-files are mapped through the descriptor of their compound file rather than by path:
    a merge may delete the compound file while a searcher still reads the old segment.
    """

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def __del__(self) -> None:
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)


class MappedFile(StructFile):
    """A read-only view of bytes [offset, offset + length) of a file, backed by its own mmap."""

    def __init__(
        self, descriptor: _Descriptor, offset: int = 0, length: int | None = None, name: str | None = None
    ) -> None:
        self._descriptor = descriptor
        self._offset = offset
        if length is None:
            length = os.fstat(descriptor.fd).st_size - offset
        start = offset - offset % _GRANULARITY
        self._delta = offset - start
        source: mmap.mmap | BytesIO
        if length:
            source = mmap.mmap(descriptor.fd, self._delta + length, access=mmap.ACCESS_READ, offset=start)
            source.seek(self._delta)
        else:
            source, self._delta = BytesIO(b""), 0  # mmap refuses an empty map
        super().__init__(source, name=name)  # type: ignore[arg-type]

    def seek(self, where: int, whence: int = 0) -> int:
        """Move within the sub-file (whence as for io: 0 start, 1 current, 2 end)."""
        if whence == 0:
            self.file.seek(where + self._delta)
        else:
            self.file.seek(where, whence)
        return self.file.tell() - self._delta

    def tell(self) -> int:
        """Position within the sub-file."""
        return self.file.tell() - self._delta

    def get(self, position: int, length: int) -> bytes:
        """length bytes at position, without moving the read position."""
        start = position + self._delta
        return self.file[start : start + length]

    def get_array(self, position: int, typecode: str, length: int) -> array:
        """An array of length items read at position (big-endian on disk)."""
        a = array(typecode)
        a.frombytes(self.get(position, length * _SIZEMAP[typecode]))
        if IS_LITTLE:
            a.byteswap()
        return a

    def subset(self, position: int, length: int, name: str | None = None) -> MappedFile:
        """A view of part of this file (CompoundStorage asks for each sub-file this way)."""
        return MappedFile(self._descriptor, self._offset + position, length, name=name or self._name)

    def close(self) -> None:
        """Unmap (the pages stay in the page cache for other processes)."""
        if self.is_closed:
            raise ValueError("This file is already closed")
        if self.onclose:
            self.onclose(self)
        self.file.close()
        self.is_closed = True


class MappedStorage(FileStorage):
    """FileStorage whose files are read through shared read-only maps (see the module doc).

    ``supports_mmap`` is False so that CompoundStorage does not build its own map and copy
    each sub-file; it asks our file's ``subset()`` instead, which maps the sub-file.
    """

    supports_mmap = False

    def __init__(self, path: str, readonly: bool = False) -> None:
        super().__init__(path, supports_mmap=False, readonly=readonly)

    def open_file(self, name: str, **kwargs) -> StructFile:
        """Map the file read-only (onclose and other StructFile options are honoured)."""
        f = MappedFile(_Descriptor(self._fpath(name)), name=name)
        if kwargs.get("onclose"):
            f.onclose = kwargs["onclose"]
        return f


def memory_of(pid: int | str = "self") -> dict[str, int]:
    """Memory figures of a process in bytes from /proc/PID/smaps_rollup.

    Adds ``Private`` (Private_Clean + Private_Dirty: what the process alone holds) to the
    kernel's fields (Rss, Pss, Shared_Clean, Anonymous, ...). Linux only.
    """
    figures: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                figures[parts[0].rstrip(":")] = int(parts[1]) * 1024
    figures["Private"] = figures.get("Private_Clean", 0) + figures.get("Private_Dirty", 0)
    return figures
