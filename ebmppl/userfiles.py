"""Reading the files a user names: only a regular file, no larger than ebmppl allocates at once, and a JSON
object from it, with errors that name the file and say what is wrong.

A folder, a pipe (which would block the read forever) or a device is refused before it is opened. The JSON
reader is the one ebmppl has (params sidecars and checkpoints through :mod:`ebmppl.io`, consts files through
:mod:`ebmppl.model.bind`); each caller keeps its own wording through a :class:`JsonWords`.

    >>> read_object("missing.json", "data")
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmDataError: error[data]: data file 'missing.json' not found
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import NamedTuple, Optional

from .errors import EbmDataError, EbmError

_FOLDER_HINT = "give the path of a file, not of a folder"


def memory_limit() -> int:
    """The most bytes ebmppl allocates for the arrays of one file: half the machine's memory."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (ValueError, OSError, AttributeError):  # not POSIX: a fixed 8 GiB
        return 8 << 30


def gib(n: int) -> str:
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


def within_limit(path, what: str, expansion: int = 1) -> Path:
    """``path`` when it names a regular file (see :func:`regular_file`) that reading would not take more than
    :func:`memory_limit` (``expansion`` times its size); else an ``error[limit]``."""
    p = regular_file(path, what)
    size = p.stat().st_size
    if size * expansion > memory_limit():
        raise EbmError("limit", f"{what} file '{path}' is {gib(size)}; reading it would take more than ebmppl "
                                f"allocates at once ({gib(memory_limit())}, half this machine's memory)",
                       hint="split the file, or use a machine with more memory")
    return p


def read_bytes(path, what: str, expansion: int = 1) -> bytes:
    """The bytes of a regular file (see :func:`regular_file`), refused when reading it would take more than
    :func:`memory_limit` (``expansion`` times its size: a CSV's cells take several times their text)."""
    p = within_limit(path, what, expansion)
    try:
        return p.read_bytes()
    except OSError as e:
        raise EbmError("io", f"{what} file '{path}' cannot be read: {e.strerror or e}") from None


class JsonWords(NamedTuple):
    """How a caller words what is wrong with a JSON file: templates over ``path`` and the details named."""

    not_utf8: str  # {byte}
    not_json: str  # {msg}, {line}, {column}
    too_deep: str
    bad_number: str  # {error}
    not_object: str  # {found}: array, string, number, boolean, null
    too_deep_hint: Optional[str] = None


# params sidecars and checkpoints
FILE_WORDS = JsonWords(
    not_utf8="{path}: cannot read (not UTF-8 text, byte {byte})",
    not_json="{path}: cannot read (not valid JSON: {msg} at line {line}, column {column})",
    too_deep="{path}: cannot read (the JSON is nested too deeply)",
    bad_number="{path}: cannot read (a number cannot be read: {error})",
    not_object='{path}: cannot read (it holds a JSON {found}, not an object {{"key": value, ...}})')

_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def read_object(path, what: str, words: JsonWords = FILE_WORDS) -> dict:
    """A JSON object from a regular file (see :func:`read_bytes`; UTF-8, a byte-order mark allowed); an
    error names the file and what is wrong (not UTF-8, not JSON, nested too deeply, a number that cannot be
    read, not an object), in the caller's ``words``."""
    raw = read_bytes(path, what)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EbmDataError(words.not_utf8.format(path=path, byte=e.start)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise EbmDataError(words.not_json.format(path=path, msg=e.msg, line=e.lineno, column=e.colno)) from None
    except RecursionError:
        raise EbmDataError(words.too_deep.format(path=path), hint=words.too_deep_hint) from None
    except ValueError as e:  # an integer with too many digits for Python to convert
        raise EbmDataError(words.bad_number.format(path=path, error=e)) from None
    if not isinstance(data, dict):
        raise EbmDataError(words.not_object.format(path=path, found=_JSON_NAMES.get(type(data), "value")))
    return data
