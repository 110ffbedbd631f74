"""Reading model text from files: only a regular file of at most 1 MiB in UTF-8, and for an ``include`` only a
``.ebm`` file inside the including file's folder.

A FIFO, a device, a socket or a folder is refused from ``os.stat`` before anything is opened for reading (and the
file is opened non-blocking and checked again, should it change in between), so nothing here can hang on a pipe or
read without end from ``/dev/zero``. Messages name the path and say what to do; they never show the content of a
file that was refused.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Optional

from ..errors import EbmError, EbmSyntaxError, Span, escaped

MAX_BYTES = 1 << 20  # one model file; a model is text of a few hundred lines
MAX_TOTAL_BYTES = 4 << 20  # a model with all its includes expanded (an include repeated counts each time)
MAX_INCLUDES = 256  # include statements expanded, counting repeats

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_UTF16_32 = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
             (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def size_text(n: int) -> str:
    """A byte count for people: ``2.0 MiB``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _not_regular(mode: int) -> Optional[str]:
    """What a file that is not a regular file is, in words; None for a regular file."""
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def _first_ebm(folder: Path) -> Optional[str]:
    """A .ebm file in ``folder`` to suggest (looking at a few hundred entries at most)."""
    try:
        with os.scandir(folder) as it:
            for k, entry in enumerate(it):
                if k > 500:
                    return None
                if entry.name.endswith(".ebm") and entry.is_file():
                    return entry.name
    except OSError:
        return None
    return None


def _refuse_kind(path: Path, what: str, shown: str, kind: str, span: Optional[Span]) -> EbmError:
    if kind == "a folder":
        inside = _first_ebm(path)
        hint = f"give the path of a .ebm file{f', e.g. {shown}/{inside}' if inside else ''}"
    else:
        hint = ("ebmppl reads a model only from a regular file: save the model text to a .ebm file and give that"
                if span is None else "include only regular .ebm files")
    return EbmError("io", f"{what} '{shown}' is {kind}, not a regular file" if kind != "a folder"
                    else f"{what} '{shown}' is a folder, not a file", span, escaped(hint))


def _too_big(what: str, shown: str, size: str, span: Optional[Span]) -> EbmError:
    return EbmError("limit", f"{what} '{shown}' is {size}; ebmppl reads model files of at most {size_text(MAX_BYTES)}",
                    span, "a model is text of a few hundred lines: keep data in a data or consts file")


def read_source(path, what: str = "model file", shown: Optional[str] = None, span: Optional[Span] = None) -> str:
    """The text of a model file (``what``: ``"model file"`` or ``"included file"``), refused unless it is a
    regular file of at most :data:`MAX_BYTES` in UTF-8 (a leading byte-order mark is dropped).

    ``shown`` is the name messages use (default: the path); ``span`` is where an error points (an include).

    Raises:
        FileNotFoundError: when nothing is at ``path`` (the caller words it).
        EbmError: ``io`` (not a regular file, unreadable, not UTF-8) or ``limit`` (too big).
    """
    p = Path(path)
    shown = escaped(str(path) if shown is None else shown)
    if "\0" in str(p):
        raise EbmError("io", f"{what} name '{shown}' contains a NUL character", span, "give a path without one")
    try:
        st = os.stat(p)
        kind = _not_regular(st.st_mode)
        if kind is not None:  # never opened: a FIFO would block, a device would never end
            raise _refuse_kind(p, what, shown, kind, span)
        if st.st_size > MAX_BYTES:
            raise _too_big(what, shown, size_text(st.st_size), span)
        fd = os.open(p, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as f:
            kind = _not_regular(os.fstat(f.fileno()).st_mode)
            if kind is not None:  # replaced between the stat and the open
                raise _refuse_kind(p, what, shown, kind, span)
            data = f.read(MAX_BYTES + 1)  # a file that grew, or a /proc file whose size reads 0
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(str(p)) from None
    except PermissionError:
        raise EbmError("io", f"cannot read {what} '{shown}': permission denied", span,
                       "check the file's permissions") from None
    except OSError as e:
        raise EbmError("io", f"cannot read {what} '{shown}': {e.strerror or e}", span) from None
    if len(data) > MAX_BYTES:
        raise _too_big(what, shown, f"more than {size_text(MAX_BYTES)}", span)
    return decode(data, what, shown, span)


def decode(data: bytes, what: str, shown: str, span: Optional[Span] = None) -> str:
    """UTF-8 bytes -> text, a leading byte-order mark dropped; any other encoding is an ``io`` error that says
    where the first bad byte is (and never shows the text)."""
    for bom, name in _UTF16_32:
        if data.startswith(bom):
            raise EbmError("io", f"{what} '{shown}' is {name} text, not UTF-8", span, "save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        col = len(data[start:e.start].decode("utf-8", errors="replace")) + 1
        raise EbmError("io", f"{what} '{shown}' is not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, "
                       f"column {col}", span, "save it as UTF-8 (an editor's 'save with encoding')") from None


# ------------------------------------------------------------------ includes
@dataclass
class IncludeBudget:
    """What the includes of one model have used so far: files expanded and bytes read (repeats count)."""

    files: int = 0
    bytes: int = 0

    def spend(self, n_bytes: int, span: Span) -> None:
        self.files += 1
        self.bytes += n_bytes
        if self.files > MAX_INCLUDES:
            raise EbmError("limit", f"the includes expand to more than {MAX_INCLUDES} files (repeats count)", span,
                           "include each file once, from the model file")
        if self.bytes > MAX_TOTAL_BYTES:
            raise EbmError("limit", f"the model and its includes come to more than {size_text(MAX_TOTAL_BYTES)}",
                           span, "include each file once, from the model file")


def include_target(base: Path, text: str, span: Span) -> Path:
    """The file ``include "text"`` reads: a ``.ebm`` file inside ``base`` (the including file's folder), links
    followed. A path that is empty, absolute, not a .ebm file or leads outside ``base`` is refused."""
    shown = escaped(text)
    if not text.strip():
        raise EbmSyntaxError("the include path is empty", span, 'name a file: include "common.ebm"')
    if "\0" in text:
        raise EbmSyntaxError(f"include path '{shown}' contains a NUL character", span, "remove it")
    if PurePath(text).is_absolute():
        raise EbmSyntaxError(f"include path '{shown}' is absolute", span,
                             f"write a path relative to the including file's folder ({escaped(str(base))})")
    root = base.resolve()
    real = (base / text).resolve()
    if real != root and root not in real.parents:
        lexical = Path(os.path.normpath(root / text))
        why = " (it is a link to a file elsewhere)" if lexical == root or root in lexical.parents else ""
        raise EbmSyntaxError(f"include path '{shown}' leads outside the including file's folder{why}", span,
                             f"an included file must lie in {escaped(str(base))} or a folder below it")
    if PurePath(text).suffix != ".ebm":
        raise EbmSyntaxError(f"included file '{shown}' is not a .ebm file", span,
                             "only model files (.ebm) can be included")
    return real
