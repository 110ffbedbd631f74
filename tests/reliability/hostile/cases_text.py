"""Hostile model text: the model file and its includes (paths, FIFOs, devices, sizes, encodings),
characters (controls, escapes, invisible and bidirectional characters, byte-order marks, tabs, line
ends), number literals, nesting, index forms, long lines and names that are keywords elsewhere."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .harness import Case

OK = "var x : real\nfactor f = x^2\n"
SECRET = "TOPSECRET-7f3a"  # written into files an attacker's include must not echo
MIB = 1 << 20


def check(model="m.ebm", *extra):
    return ("check", model, *extra)


# ---------------------------------------------------------------- checks
def clean(res):
    """Nothing a terminal would interpret: no control, format or invisible character on stderr."""
    bad = sorted({c for c in res.err if not c.isprintable() and c != "\n"})
    assert not bad, f"raw characters {[hex(ord(c)) for c in bad]} reach the terminal:\n{res.err!r}"


def no_secret(res):
    clean(res)
    assert SECRET not in res.err + res.out, res.err
    assert "SHELL=" not in res.err and "PATH=" not in res.err, res.err


def short(limit=2000):
    def check(res):
        clean(res)
        assert len(res.err) < limit, f"a {len(res.err)}-character message"
        assert max(len(line) for line in res.err.splitlines()) < 200, res.err[:400]
    return check


def caret_under(text):
    """The caret line points at ``text`` in the source line echoed above it."""
    def check(res):
        clean(res)
        lines = res.err.splitlines()
        i = next(i for i, line in enumerate(lines) if re.match(r"^\s*\d+ \| ", line))
        src, caret = lines[i], lines[i + 1]
        at = caret.index("^")
        assert src[at:at + len(text)] == text, f"caret at {at}, not under {text!r}:\n{src}\n{caret}"
    return check


def at(loc):
    """The message points at ``loc`` (file:line:col) and is clean."""
    def check(res):
        clean(res)
        assert f"--> {loc}" in res.err, res.err
    return check


def both(*checks):
    def check(res):
        for c in checks:
            c(res)
    return check


def warns(phrase, model="m.ebm"):
    """The model loads (exit 0) and loading it warns with ``phrase``."""
    def check(res):
        import warnings

        import ebmppl
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            ebmppl.load(res.dir / model)
        said = " | ".join(str(w.message) for w in seen)
        assert phrase.lower() in said.lower(), said
    return check


# ---------------------------------------------------------------- setups
def fifo(rel):
    def setup(d: Path):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(d / rel)
    return setup


def link(rel, target):
    def setup(d: Path):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target.replace("{dir}", str(d)), d / rel)
    return setup


def folder(rel):
    return lambda d: (d / rel).mkdir(parents=True)


def big(rel, size=2 * MIB):
    def setup(d: Path):
        line = b"# " + b"-" * 77 + b"\n"
        (d / rel).write_bytes(b"var x : real\nfactor f = x^2\n" + line * (size // len(line) + 1))
    return setup


def bomb(width=12, levels=5):
    """Files that include the next one ``width`` times, ``levels`` deep: width**levels expansions."""
    files = {f"b{k}.ebm": "".join(f'include "b{k + 1}.ebm"\n' for _ in range(width)) for k in range(levels)}
    files[f"b{levels}.ebm"] = "# leaf\n"
    files["m.ebm"] = 'include "b0.ebm"\n' + OK
    return files


def chain(n, op="+"):
    return f"var x : real\nfactor f = {f' {op} '.join(['x'] * n)}\n"


# ---------------------------------------------------------------- includes
INCLUDES = [
    Case("include-proc-environ", check(), {"m.ebm": 'include "/proc/self/environ"\n' + OK},
         kind="syntax", phrase="absolute", check=no_secret, timeout=20),
    Case("include-dev-zero", check(), {"m.ebm": 'include "/dev/zero"\n' + OK},
         kind="syntax", phrase="absolute", check=clean, timeout=20),
    Case("include-dev-zero-dotdot", check(), {"m.ebm": 'include "../../../../../../../../dev/zero"\n' + OK},
         kind="syntax", phrase="outside", check=clean, timeout=20),
    Case("include-dotdot-secret", check("sub/m.ebm"),
         {"sub/m.ebm": 'include "../secret.ebm"\n' + OK, "secret.ebm": f"{SECRET} = 1\n"},
         kind="syntax", phrase="outside", check=no_secret),
    Case("include-symlink-escapes", check("sub/m.ebm"),
         {"sub/m.ebm": 'include "link.ebm"\n' + OK, "secret.ebm": f"{SECRET} = 1\n"},
         setup=link("sub/link.ebm", "{dir}/secret.ebm"), kind="syntax", phrase="outside", check=no_secret),
    Case("include-symlink-to-device", check(), {"m.ebm": 'include "z.ebm"\n' + OK},
         setup=link("z.ebm", "/dev/zero"), kind="syntax", phrase="outside", check=clean, timeout=20),
    Case("include-symlink-inside-is-fine", check(), {"m.ebm": 'include "alias.ebm"\n' + OK,
                                                     "real.ebm": "var y : real\nfactor g = y^2\n"},
         setup=link("alias.ebm", "real.ebm"), code=0, phrase="ok"),
    Case("include-fifo", check(), {"m.ebm": 'include "pipe.ebm"\n' + OK}, setup=fifo("pipe.ebm"),
         kind="io", phrase="FIFO", check=clean, timeout=10),
    Case("include-fifo-in-subfolder", check(), {"m.ebm": 'include "lib/pipe.ebm"\n' + OK},
         setup=fifo("lib/pipe.ebm"), kind="io", phrase="FIFO", check=clean, timeout=10),
    Case("include-not-an-ebm-file", check(), {"m.ebm": 'include "secret.txt"\n' + OK, "secret.txt": SECRET + "\n"},
         kind="syntax", phrase="not a .ebm file", check=no_secret),
    Case("include-dotenv", check(), {"m.ebm": 'include ".env"\n' + OK, ".env": f"API_KEY={SECRET}\n"},
         kind="syntax", phrase="not a .ebm file", check=no_secret),
    Case("include-folder", check(), {"m.ebm": 'include "lib.ebm"\n' + OK}, setup=folder("lib.ebm"),
         kind="io", phrase="folder", check=clean),
    Case("include-empty-path", check(), {"m.ebm": 'include ""\n' + OK}, kind="syntax", phrase="empty",
         check=clean),
    Case("include-too-big", check(), {"m.ebm": 'include "huge.ebm"\n' + OK}, setup=big("huge.ebm"),
         kind="limit", phrase="1 MiB", check=clean),
    Case("include-not-utf8", check(), {"m.ebm": 'include "latin.ebm"\n' + OK,
                                       "latin.ebm": f"# {SECRET} caf\xe9\n".encode("latin-1")},
         kind="io", phrase="not UTF-8", check=no_secret),
    Case("include-cycle-two-files", check(), {"m.ebm": 'include "a.ebm"\n' + OK, "a.ebm": 'include "m.ebm"\n'},
         kind="syntax", phrase="includes itself", check=clean),
    Case("include-bomb", check(), bomb(), kind="limit", phrase="include", check=clean, timeout=20),
    Case("include-unterminated-string", check(), {"m.ebm": 'include "common.ebm\n' + OK},
         kind="syntax", phrase="not closed", check=at("m.ebm:1:9")),
    Case("include-escape-sequence-in-path", check(), {"m.ebm": 'include "a\x1b[2J\x1b[31mb.ebm"\n' + OK},
         kind="syntax", phrase="not found", check=clean),
    Case("include-smart-quotes", check(), {"m.ebm": "include \u201ccommon.ebm\u201d\n" + OK},
         kind="syntax", phrase="U+201C LEFT DOUBLE QUOTATION MARK", check=clean),
    Case("include-syntax-error-points-into-included-file", check(),
         {"m.ebm": 'include "lib/prior.ebm"\n' + OK, "lib/prior.ebm": "var y : real\nfactor g = (y\n"},
         kind="syntax", phrase="prior.ebm:2:", check=clean),
]

# ---------------------------------------------------------------- the model file itself
MODEL_FILE = [
    Case("model-is-a-folder", check("models"), setup=folder("models"), kind="io", phrase="is a folder",
         check=clean),
    Case("model-is-a-fifo", check("pipe.ebm"), setup=fifo("pipe.ebm"), kind="io", phrase="FIFO",
         check=clean, timeout=10),
    Case("model-is-dev-zero", check("/dev/zero"), kind="io", phrase="device", check=clean, timeout=20),
    Case("model-is-dev-urandom", check("/dev/urandom"), kind="io", phrase="device", check=clean, timeout=20),
    Case("model-too-big", check(), setup=big("m.ebm"), kind="limit", phrase="1 MiB", check=clean, timeout=30),
    Case("model-not-utf8", check(), {"m.ebm": b"var x : real\nfactor f = x^2 \xff\n"}, kind="io",
         phrase="line 2, column 16", check=clean),
    Case("model-latin1", check(), {"m.ebm": "var x : real # caf\xe9\nfactor f = x^2\n".encode("latin-1")},
         kind="io", phrase="not UTF-8", check=clean),
    Case("model-utf16", check(), {"m.ebm": OK.encode("utf-16")}, kind="io", phrase="UTF-16", check=clean),
    Case("model-missing", check("nope.ebm"), kind="io", phrase="not found", check=clean),
    Case("model-name-with-escape-sequence", check("a\x1b[2J\x1b[31m.ebm"), kind="io", phrase="not found",
         check=clean),
    Case("model-empty", check(), {"m.ebm": ""}, kind="semantic", phrase="no factors", check=clean),
    Case("model-only-comments", check(), {"m.ebm": "# one\n# two\n\n"}, kind="semantic", phrase="no factors",
         check=clean),
    Case("model-only-blank-lines-and-bom", check(), {"m.ebm": "\ufeff\n\n  \n"}, kind="semantic",
         phrase="no factors", check=clean),
]

# ---------------------------------------------------------------- characters and line ends
CHARACTERS = [
    Case("char-zero-width-space", check(), {"m.ebm": "var x : real\u200b\nfactor f = x^2\n"}, kind="syntax",
         phrase="U+200B ZERO WIDTH SPACE", check=at("m.ebm:1:13")),
    Case("char-ansi-escape", check(), {"m.ebm": "var x : real\nfactor f = x^2 \x1b[31mred\x1b[0m\n"},
         kind="syntax", phrase="U+001B ESCAPE", check=at("m.ebm:2:16")),
    Case("char-nul", check(), {"m.ebm": "var x : real\nfactor f = x^2 \x00\n"}, kind="syntax",
         phrase="U+0000 NULL", check=clean),
    Case("char-bell-and-backspace", check(), {"m.ebm": "var x : real\x07\x08\x08\nfactor f = x^2\n"},
         kind="syntax", phrase="U+0007", check=clean),
    Case("char-bidi-override", check(), {"m.ebm": "var x : real\nfactor f = x^2 \u202e1 - \u202c\n"},
         kind="syntax", phrase="U+202E RIGHT-TO-LEFT OVERRIDE", check=clean),
    Case("char-bidi-isolate", check(), {"m.ebm": "var x : real\nfactor f = x^2\u2066\n"}, kind="syntax",
         phrase="U+2066", check=clean),
    Case("char-no-break-space", check(), {"m.ebm": "var x :\u00a0real\nfactor f = x^2\n"}, kind="syntax",
         phrase="U+00A0 NO-BREAK SPACE", check=at("m.ebm:1:8")),
    Case("char-bom-inside-file", check(), {"m.ebm": "var x : real\n\ufefffactor f = x^2\n"}, kind="syntax",
         phrase="U+FEFF", check=at("m.ebm:2:1")),
    Case("char-bom-at-start-is-fine", check(), {"m.ebm": "\ufeff" + OK}, code=0, phrase="ok"),
    Case("char-line-separator", check(), {"m.ebm": "var x : real\nfactor f = x^2\u2028+ 1\n"}, kind="syntax",
         phrase="U+2028 LINE SEPARATOR", check=at("m.ebm:2:15")),
    Case("char-unicode-minus", check(), {"m.ebm": "var x : real\nfactor f = x^2 \u2212 1\n"}, kind="syntax",
         phrase="U+2212 MINUS SIGN", check=clean),
    Case("char-non-ascii-name", check(), {"m.ebm": "var caf\xe9 : real\nfactor f = caf\xe9^2\n"}, kind="syntax",
         phrase="U+00E9", check=clean),
    Case("char-escape-in-comment-echoed", check(),
         {"m.ebm": "var x : real\nfactor f = y  # \x1b]0;pwned\x07 \x1b[2J\n"}, kind="semantic",
         phrase="unknown name 'y'", check=both(at("m.ebm:2:12"), caret_under("y"))),
    Case("char-tabs-keep-the-caret-aligned", check(), {"m.ebm": "var x : real\n\tfactor\tf = x^2\t+ $\n"},
         kind="syntax", phrase="'$'", check=caret_under("$")),
    Case("char-invisible-before-the-error-keeps-the-caret-aligned", check(),
         {"m.ebm": "var x : real\nfactor f = x^2 # \u200b\u202e\nfactor g = x + y\n"}, kind="semantic",
         phrase="unknown name 'y'", check=caret_under("y")),
    Case("char-wide-characters-keep-the-caret-aligned", check(),
         {"m.ebm": "var x : real\nfactor f = x^2 + yy  # \u6e29\u5ea6\n"}, kind="semantic",
         phrase="unknown name 'yy'", check=caret_under("yy")),
    Case("lines-crlf-spans", check(), {"m.ebm": "var x : real\r\n\r\nfactor f = x^2 + y\r\n"}, kind="semantic",
         phrase="unknown name 'y'", check=both(at("m.ebm:3:18"), caret_under("y"))),
    Case("lines-crlf-is-fine", check(), {"m.ebm": OK.replace("\n", "\r\n")}, code=0, phrase="ok"),
    Case("lines-lone-cr", check(), {"m.ebm": OK.replace("\n", "\r")}, kind="syntax",
         phrase="U+000D CARRIAGE RETURN", check=clean),
    Case("lines-form-feed-keeps-line-numbers", check(), {"m.ebm": "var x : real\x0c\nfactor f = x + y\n"},
         kind="semantic", phrase="unknown name 'y'", check=both(at("m.ebm:2:16"), caret_under("y"))),
    Case("lines-very-long-line-is-elided", check(),
         {"m.ebm": "var x : real\nfactor f = sum([" + "x, " * 1500 + "y])\n"}, kind="semantic",
         phrase="unknown name 'y'", check=both(short(), caret_under("y"))),
    Case("lines-very-long-name", check(), {"m.ebm": "var x : real\nfactor f = x + " + "q" * 100_000 + "\n"},
         kind="semantic", phrase="unknown name", check=short(3000)),
]

# ---------------------------------------------------------------- number literals
LITERALS = [
    Case("literal-int-5000-digits", check(), {"m.ebm": "var x : real\nfactor f = x * " + "9" * 5000 + "\n"},
         kind="limit", phrase="5000 digits", check=both(short(), at("m.ebm:2:16"))),
    Case("literal-int-too-large", check(), {"m.ebm": "var x : real\nfactor f = x * 99999999999999999999999\n"},
         kind="limit", phrase="too large", check=at("m.ebm:2:16")),
    Case("literal-int-beyond-int64", check(), {"m.ebm": "var x : real[9223372036854775808]\nfactor f = sum(x)\n"},
         kind="limit", phrase="9223372036854775807", check=at("m.ebm:1:14")),
    Case("literal-int-5000-leading-zeros", check(), {"m.ebm": "var x : real\nfactor f = x * " + "0" * 5000 + "7\n"},
         code=0, phrase="ok"),
    Case("literal-real-5000-digits", check(), {"m.ebm": "var x : real\nfactor f = x * 0." + "0" * 5000 + "1 + x^2\n"},
         code=0, phrase="ok", check=warns("becomes 0")),
    Case("literal-real-5000-significant-digits", check(),
         {"m.ebm": "var x : real\nfactor f = x * 1." + "3" * 5000 + " + x^2\n"}, code=0, phrase="ok"),
    Case("literal-inf", check(), {"m.ebm": "var x : real\nfactor f = x * 1e999\n"}, kind="limit",
         phrase="1e999", check=at("m.ebm:2:16")),
    Case("literal-minus-inf", check(), {"m.ebm": "var x : real\nfactor f = x * -1e999\n"}, kind="limit",
         phrase="1e999", check=at("m.ebm:2:17")),
    Case("literal-inf-5000-digits", check(), {"m.ebm": "var x : real\nfactor f = x * " + "9" * 5000 + ".5\n"},
         kind="limit", phrase="digits", check=short()),
    Case("literal-param-init-inf", check(), {"m.ebm": "var x : real\nparam a : real = 1e400\nfactor f = a * x^2\n"},
         kind="limit", phrase="1e400", check=at("m.ebm:2:18")),
    Case("literal-underflow-warns", check(), {"m.ebm": "var x : real\nfactor f = x^2 + 1e-999 * x\n"}, code=0,
         phrase="ok", check=warns("becomes 0")),
]

# ---------------------------------------------------------------- nesting
NESTING = [
    Case("nesting-flat-sum-500", check(), {"m.ebm": chain(500)}, code=0, phrase="ok", timeout=60),
    Case("nesting-flat-mixed-500", check(), {"m.ebm": "var x : real\nfactor f = x" + " - x + x" * 250 + "\n"},
         code=0, phrase="ok", timeout=60),
    Case("nesting-flat-sum-500-samples", ("sample", "m.ebm", "--draws", "20", "--warmup", "20", "--chains", "1",
                                          "--no-progress", "--out", "s"),
         {"m.ebm": "var x : real\nfactor f = (" + " + ".join(["x^2"] * 500) + ") / 500\n"}, code=0, timeout=120),
    Case("nesting-flat-sum-10000", check(), {"m.ebm": chain(10_000)}, kind="syntax", phrase="in a row",
         check=short(), timeout=30),
    Case("nesting-10000-parens", check(), {"m.ebm": "var x : real\nfactor f = " + "(" * 10_000 + "x"
                                           + ")" * 10_000 + "\n"},
         kind="syntax", phrase="nested more than 200", check=both(short(), at("m.ebm:2:212")), timeout=30),
    Case("nesting-10000-unclosed-parens", check(), {"m.ebm": "var x : real\nfactor f = " + "(" * 10_000 + "\n"},
         kind="syntax", phrase="nested more than 200", check=short(), timeout=30),
    Case("nesting-300-calls", check(), {"m.ebm": "var x : real\nfactor f = " + "abs(" * 300 + "x" + ")" * 300
                                        + "\n"},
         kind="syntax", phrase="nested more than 200", check=short(), timeout=30),
    Case("nesting-10000-brackets", check(), {"m.ebm": "var x : real\nfactor f = sum(" + "[" * 10_000 + "x"
                                             + "]" * 10_000 + ")\n"},
         kind="syntax", phrase="nested more than 200", check=short(), timeout=30),
    Case("nesting-5000-unary-minus", check(), {"m.ebm": "var x : real\nfactor f = " + "-" * 5000 + "x\n"},
         kind="syntax", phrase="nested more than", check=short(), timeout=30),
    Case("nesting-150-calls-is-fine", check(), {"m.ebm": "var x : real\nfactor f = " + "abs(" * 150 + "x"
                                                + ")" * 150 + "\n"},
         code=0, phrase="ok", timeout=60),
]

# ---------------------------------------------------------------- index forms, names
INDEXES = [
    Case("index-double-ellipsis", check(), {"m.ebm": "var x : real[3]\nfactor f = sum(x[..., ...])\n"},
         kind="syntax", phrase="one '...'", check=at("m.ebm:2:23")),
    Case("index-ellipsis-none-ellipsis", check(), {"m.ebm": "var x : real[3]\nfactor f = sum(x[..., None, ...])\n"},
         kind="syntax", phrase="one '...'", check=at("m.ebm:2:29")),
    Case("index-double-ellipsis-in-target", check(), {"m.ebm": "var x : real[3]\nx[..., ...] ~ normal(0, 1)\n"},
         kind="syntax", phrase="one '...'", check=at("m.ebm:2:8")),
    Case("index-zero-step", check(), {"m.ebm": "var x : real[3]\nfactor f = sum(x[::0])\n"},
         kind="semantic", phrase="step", check=at("m.ebm:2:20")),
    Case("index-minus-zero-step", check(), {"m.ebm": "var x : real[3]\nfactor f = sum(x[::-0])\n"},
         kind="semantic", phrase="step", check=clean),
    Case("index-empty", check(), {"m.ebm": "var x : real[3]\nfactor f = sum(x[])\n"}, kind="syntax",
         phrase="needs a subscript", check=at("m.ebm:2:18")),
]

NAMES = [
    Case("name-python-keywords", check(),
         {"m.ebm": "var lambda : real\nvar def : real\nvar class : real\nvar import : real\n"
                   "factor f = lambda^2 + def^2 + class^2 + import^2\n"}, code=0, phrase="ok"),
    Case("name-jax-and-numpy-modules", check(), {"m.ebm": "var jnp : real\nvar np : real\nvar jax : real\n"
                                                          "factor f = jnp^2 + np^2 + jax^2\n"}, code=0, phrase="ok"),
    Case("name-dunder", check(), {"m.ebm": "var __class__ : real\nvar __init__ : real\n"
                                           "factor f = __class__^2 + __init__^2\n"}, code=0, phrase="ok"),
    Case("name-reserved-none", check(), {"m.ebm": "var None : real\nfactor f = x^2\n"}, kind="syntax",
         phrase="reserved", check=clean),
    Case("syntax-missing-colon", check(), {"m.ebm": "var x real\n"}, kind="syntax", phrase="m.ebm:1:"),
    Case("syntax-empty-file-check", check(), {"m.ebm": ""}, kind=None, code=2),
]

CASES = INCLUDES + MODEL_FILE + CHARACTERS + LITERALS + NESTING + INDEXES + NAMES
