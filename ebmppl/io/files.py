"""Opening the files a user names: regular files, JSON objects, NPZ archives, and atomic writes.

A folder, a pipe or a device is refused before it is opened. An NPZ's every member must be a plain .npy
array of the size its header claims, checked before anything is allocated, and is never unpickled.
Atomic writes leave no partial file.
"""

from __future__ import annotations

import glob
import json
import os
import stat
import zipfile
from pathlib import Path
import numpy as np

from ..errors import EbmDataError, EbmError

_FOLDER_HINT = "give the path of a file, not of a folder"


def memory_limit() -> int:
    """The most bytes ebmppl allocates for the arrays of one file: half the machine's memory."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (ValueError, OSError, AttributeError):  # not POSIX: a fixed 8 GiB
        return 8 << 30


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


def regular_file(path, what: str) -> Path:
    """``path`` when it names an existing regular file; else an error saying what it is instead.

    A folder, a pipe (which would block the read forever) or a device is refused before it is opened.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise EbmDataError(f"{what} file '{path}' not found") from None
    except OSError as e:
        raise EbmError("io", f"{what} file '{path}' cannot be read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise EbmDataError(f"{what} file '{path}' is a folder, not a file", hint=_FOLDER_HINT)
    if not stat.S_ISREG(st.st_mode):
        raise EbmDataError(f"{what} file '{path}' is not a regular file (a pipe, a socket or a device)",
                           hint="give the path of a file on disk")
    return p


def read_bytes(path, what: str, expansion: int = 1) -> bytes:
    """The bytes of a regular file (see :func:`regular_file`), refused when reading it would take more than
    :func:`memory_limit` (``expansion`` times its size: a CSV's cells take several times their text)."""
    p = regular_file(path, what)
    size = p.stat().st_size
    if size * expansion > memory_limit():
        raise EbmError("limit", f"{what} file '{path}' is {_gib(size)}; reading it would take more than ebmppl "
                                f"allocates at once ({_gib(memory_limit())}, half this machine's memory)",
                       hint="split the file, or use a machine with more memory")
    try:
        return p.read_bytes()
    except OSError as e:
        raise EbmError("io", f"{what} file '{path}' cannot be read: {e.strerror or e}") from None


def read_json(path, what: str) -> dict:
    """A JSON object from a regular file; an error names the file and what is wrong (not UTF-8, not JSON,
    nested too deeply, not an object)."""
    raw = read_bytes(path, what)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EbmDataError(f"{path}: cannot read (not UTF-8 text, byte {e.start})") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise EbmDataError(f"{path}: cannot read (not valid JSON: {e.msg} at line {e.lineno}, column {e.colno})") \
            from None
    except RecursionError:
        raise EbmDataError(f"{path}: cannot read (the JSON is nested too deeply)") from None
    if not isinstance(meta, dict):
        raise EbmDataError(f"{path}: cannot read (it holds a JSON {_JSON_NAMES.get(type(meta), 'value')}, not an "
                           f"object {{\"key\": value, ...}})")
    return meta


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


# ------------------------------------------------------------------------- NPZ
def load_npz(path, what: str) -> dict[str, np.ndarray]:
    """Every array of an NPZ file; errors name the file and the array.

    Every member must be a ``NAME.npy`` array of numbers or strings. Each header is read first, and an
    array holding Python objects (which only unpickling could read), one whose header claims more data
    than the member holds, or one beyond :func:`memory_limit` is refused before anything is allocated.
    """
    p = regular_file(path, what)
    if not zipfile.is_zipfile(p):
        raise EbmDataError(f"{path}: not an NPZ file (an NPZ is a zip archive of .npy arrays; this one is not a "
                           f"zip archive, or it is cut short)", hint="write it with numpy.savez")
    try:
        with zipfile.ZipFile(p) as z:
            names = _check_members(path, z)
        with np.load(p, allow_pickle=False) as f:
            return {k: _member(path, f, k) for k in names}
    except EbmError:
        raise
    except MemoryError:
        raise EbmError("limit", f"{path}: its arrays do not fit in memory") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, KeyError) as e:
        raise EbmDataError(f"{path}: cannot read NPZ ({e})") from None


def _check_members(path, z: zipfile.ZipFile) -> list[str]:
    """The array names of the archive, each member's header checked against its size (see :func:`load_npz`)."""
    names, total = [], 0
    for info in z.infolist():
        if not info.filename.endswith(".npy") or info.is_dir():
            raise EbmDataError(f"{path}: member '{info.filename}' is not a .npy array",
                               hint="an NPZ holds only .npy arrays (numpy.savez writes them)")
        name = info.filename[:-4]
        if name in names:
            raise EbmDataError(f"{path}: array '{name}' appears twice")
        names.append(name)
        total += _check_header(path, z, info, name)
    if total > memory_limit():
        raise EbmError("limit", f"{path}: its arrays take {_gib(total)}, more than ebmppl loads at once "
                                f"({_gib(memory_limit())}, half this machine's memory)")
    return names


def _check_header(path, z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> int:
    """The bytes the member's array takes, once its header is read and matches the member's size."""
    where = f"{path}: cannot read array '{name}'"
    with z.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
        except (ValueError, EOFError, OSError, SyntaxError) as e:
            raise EbmDataError(f"{where}: it is not a valid .npy array ({e})",
                               hint="save plain numeric arrays with numpy.savez") from None
        offset = fp.tell()
    if dtype.hasobject:
        raise EbmDataError(f"{where}: it holds Python objects, and ebmppl never unpickles",
                           hint="save plain numeric arrays")
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * dtype.itemsize
    if any(int(d) < 0 for d in shape) or nbytes != info.file_size - offset:
        raise EbmDataError(f"{where}: its header claims shape {list(shape)} of {dtype} ({nbytes} bytes), but the "
                           f"file holds {info.file_size - offset} bytes of data", hint="the file is corrupt; write it "
                                                                                       "again with numpy.savez")
    return nbytes


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
