"""Opening the files a user names: regular files, JSON objects, NPZ archives and NPY arrays, and atomic writes.

A folder, a pipe or a device is refused before it is opened (:mod:`ebmppl.userfiles`). An NPZ's every member
must be a plain .npy array of the size its header claims, checked before anything is allocated, and is never
unpickled; arrays stored uncompressed can be memory-mapped. Atomic writes leave no partial file.
"""

from __future__ import annotations

import glob
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import EbmDataError, EbmError
# opening a file and reading JSON are in the base layer, where the model's consts files are read too
from ..userfiles import gib as _gib
from ..userfiles import memory_limit, read_bytes, read_object, regular_file, within_limit  # noqa: F401


def read_json(path, what: str) -> dict:
    """A JSON object from a regular file; an error names the file and what is wrong (not UTF-8, not JSON,
    nested too deeply, not an object)."""
    return read_object(path, what)


# ------------------------------------------------------------------------- NPZ
def load_npz(path, what: str, mmap: bool = False) -> dict[str, np.ndarray]:
    """Every array of an NPZ file; errors name the file and the array.

    Every member must be a ``NAME.npy`` array of numbers or strings. Each header is read first, and an
    array holding Python objects (which only unpickling could read), one whose header claims more data
    than the member holds, or one beyond :func:`memory_limit` is refused before anything is allocated.
    With ``mmap``, a member stored uncompressed (``numpy.savez``) is memory-mapped read-only rather than
    read: its pages are read from disk when used (a compressed member is read as usual).
    """
    p = regular_file(path, what)
    if not zipfile.is_zipfile(p):
        raise EbmDataError(f"{path}: not an NPZ file (an NPZ is a zip archive of .npy arrays; this one is not a "
                           f"zip archive, or it is cut short)", hint="write it with numpy.savez")
    try:
        with zipfile.ZipFile(p) as z:
            headers = _check_members(path, z)
        mapped = {k: _mapped(p, h) for k, h in headers.items() if mmap and h.stored} if mmap else {}
        with np.load(p, allow_pickle=False) as f:
            return {k: mapped[k] if k in mapped else _member(path, f, k) for k in headers}
    except EbmError:
        raise
    except MemoryError:
        raise EbmError("limit", f"{path}: its arrays do not fit in memory") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, KeyError) as e:
        raise EbmDataError(f"{path}: cannot read NPZ ({e})") from None


def load_npy(path, what: str) -> np.ndarray:
    """The array of an ``.npy`` file, memory-mapped read-only; its header is checked as an NPZ member's is
    (no Python objects, the size it claims, at most :func:`memory_limit`)."""
    p = regular_file(path, what)
    with open(p, "rb") as fp:
        h = _read_header(fp, f"{path}: cannot read the array", p.stat().st_size, offset=0)
    if h.nbytes > memory_limit():
        raise EbmError("limit", f"{path}: its array takes {_gib(h.nbytes)}, more than ebmppl loads at once "
                                f"({_gib(memory_limit())}, half this machine's memory)")
    try:
        return _mapped(p, h)
    except (ValueError, OSError) as e:
        raise EbmDataError(f"{path}: cannot read the array ({e})") from None


class _Header(NamedTuple):
    """What a .npy header says, and where its data start in the file (``stored``: not compressed)."""

    shape: tuple
    fortran: bool
    dtype: np.dtype
    start: int
    nbytes: int
    stored: bool = True


def _mapped(p: Path, h: _Header) -> np.ndarray:
    if h.nbytes == 0:  # mmap cannot map nothing
        return np.empty(h.shape, h.dtype, order="F" if h.fortran else "C")
    return np.memmap(p, dtype=h.dtype, mode="r", shape=h.shape, order="F" if h.fortran else "C", offset=h.start)


def _check_members(path, z: zipfile.ZipFile) -> dict[str, _Header]:
    """The arrays of the archive, each member's header checked against its size (see :func:`load_npz`)."""
    headers, total = {}, 0
    for info in z.infolist():
        if not info.filename.endswith(".npy") or info.is_dir():
            raise EbmDataError(f"{path}: member '{info.filename}' is not a .npy array",
                               hint="an NPZ holds only .npy arrays (numpy.savez writes them)")
        name = info.filename[:-4]
        if name in headers:
            raise EbmDataError(f"{path}: array '{name}' appears twice")
        start = _data_start(z, info)
        with z.open(info) as fp:
            h = _read_header(fp, f"{path}: cannot read array '{name}'", info.file_size, start)
        headers[name] = h._replace(stored=info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1)
        total += h.nbytes
    if total > memory_limit():
        raise EbmError("limit", f"{path}: its arrays take {_gib(total)}, more than ebmppl loads at once "
                                f"({_gib(memory_limit())}, half this machine's memory)")
    return headers


def _data_start(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start in the archive: after its local header (30 bytes, its name, its extra)."""
    z.fp.seek(info.header_offset)
    local = z.fp.read(30)
    return info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")


def _read_header(fp, where: str, size: int, offset: int) -> _Header:
    """The header of the .npy data ``fp`` reads (``size`` bytes, starting at ``offset`` in its file), once it
    is checked: a known version, no Python objects, and as many bytes of data as it claims."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
    except (ValueError, EOFError, OSError, SyntaxError) as e:
        raise EbmDataError(f"{where}: it is not a valid .npy array ({e})",
                           hint="save plain numeric arrays with numpy.savez") from None
    header_len = fp.tell()
    if dtype.hasobject:
        raise EbmDataError(f"{where}: it holds Python objects, and ebmppl never unpickles",
                           hint="save plain numeric arrays")
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * dtype.itemsize
    if any(int(d) < 0 for d in shape) or nbytes != size - header_len:
        raise EbmDataError(f"{where}: its header claims shape {list(shape)} of {dtype} ({nbytes} bytes), but the "
                           f"file holds {size - header_len} bytes of data", hint="the file is corrupt; write it "
                                                                                 "again with numpy.savez")
    return _Header(tuple(int(d) for d in shape), bool(fortran), dtype, offset + header_len, nbytes)


def _member(path, f, name: str) -> np.ndarray:
    try:
        a = f[name]
    except ValueError as e:
        raise EbmDataError(f"{path}: cannot read array '{name}': it is not a valid .npy array ({e})",
                           hint="save plain numeric arrays with numpy.savez") from None
    if not isinstance(a, np.ndarray):  # numpy hands back the raw bytes of a member that is no .npy
        raise EbmDataError(f"{path}: cannot read array '{name}': it is not a .npy array",
                           hint="save plain numeric arrays with numpy.savez")
    return a


# ------------------------------------------------------------------- writing
def atomic_write(path, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``; no partial file is ever left."""
    import tempfile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the result gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def sidecar(path) -> Path:
    """The JSON file written beside an NPZ (``params.npz`` -> ``params.json``)."""
    return Path(path).with_suffix(".json")
