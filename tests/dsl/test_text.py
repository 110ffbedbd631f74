"""Model text as an attacker writes it, through the Python API: files and includes, characters a terminal
would act on, line ends, number literals, nesting, index forms. (The command line's side of the same is in
tests/reliability/hostile/cases_text.py.)"""

from __future__ import annotations

import os
import signal
import sys
import warnings

import jax.numpy as jnp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ebmppl as ebm
from ebmppl.dsl import ast as A
from ebmppl.dsl import files, literals, nesting
from ebmppl.dsl.parse import parse, parse_file
from ebmppl.errors import EbmError, Source, Span, char_name, escaped

OK = "var x : real\nfactor f = x^2\n"


def error_of(fn, *args, **kw) -> EbmError:
    with pytest.raises(EbmError) as e:
        fn(*args, **kw)
    return e.value


def printable(text: str) -> bool:
    return all(c.isprintable() or c == "\n" for c in text)


@pytest.fixture
def alarm():
    """Fail instead of hanging: a read that blocks is interrupted after 5 s."""
    def ring(*_):
        raise TimeoutError("blocked")
    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ lines and rendering
def test_lines_split_only_at_line_feeds():
    src = Source("m.ebm", "a\x0cb\u2028c\r\nd\re\n\nf")
    assert src.lines() == ["a\x0cb\u2028c", "d\re", "", "f"]
    assert src.n_lines == 4 and src.line(4) == "f" and src.line(5) == ""
    assert Source("m.ebm", "a\n").lines() == ["a"] and Source("m.ebm", "").n_lines == 1


@pytest.mark.parametrize("c, name", [("\x00", "U+0000 NULL"), ("\x1b", "U+001B ESCAPE"), ("\x7f", "U+007F DELETE"),
                                     ("\u200b", "U+200B ZERO WIDTH SPACE"), ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
                                     ("\x90", "U+0090 <control>"), ("a", "U+0061 LATIN SMALL LETTER A")])
def test_char_name(c, name):
    assert char_name(c) == name


def test_render_escapes_everything_a_terminal_acts_on():
    src = Source("a\x1b[31m.ebm", "factor f = \x1b[2J y \u202e\n")
    err = EbmError("semantic", "unknown name '\x1b]0;x\x07'", Span(src, 1, 17, 1, 18), "hint \u200b", ["note \x00"])
    text = err.render()
    assert printable(text), repr(text)
    assert "\\u{1B}[2J" in text and "\\u{202E}" in text and "\\u{0}" in text


def test_the_caret_stays_under_its_character():
    def caret(text, col, width=1):
        lines = EbmError("syntax", "m", Span(Source("m.ebm", text), 1, col, 1, col + width)).render().split("\n")
        return lines[3].split(" | ", 1)[1], lines[4].split(" | ", 1)[1]
    src, car = caret("\tx = \u200b y", 8)  # a tab, an escaped invisible character before the caret
    assert src[car.index("^")] == "y"
    src, car = caret("\u6e29\u5ea6 = y", 6)  # two double-width characters
    assert car.index("^") == 2 * 2 + 3
    line = "x + " * 2000 + "yyy" + " + x" * 2000
    src, car = caret(line, line.index("yyy") + 1, 3)
    assert len(src) < 150 and src.startswith("...") and src.endswith("...")
    assert src[car.index("^"):car.index("^") + len(car.strip())] == "yyy"


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_no_message_carries_a_raw_control_character(junk):
    for text in (junk, f"var x : real\nfactor f = x^2 {junk}\n", f"var x : real # {junk}\nfactor f = y\n"):
        try:
            ebm.parse(text, "m.ebm")
        except EbmError as e:
            assert printable(e.render()), repr(e.render())


def test_long_words_in_messages_are_shortened():
    text = EbmError("semantic", "unknown name '" + "q" * 10_000 + "'").render()
    assert len(text) < 300 and "(10002 characters)" in text


# ------------------------------------------------------------------ reading files
def test_a_fifo_is_refused_without_blocking(tmp_path, alarm):
    os.mkfifo(tmp_path / "m.ebm")
    err = error_of(parse_file, tmp_path / "m.ebm")
    assert err.kind == "io" and "named pipe (FIFO)" in err.message


@pytest.mark.parametrize("path, what", [("/dev/zero", "character device"), ("/dev/null", "character device")])
def test_devices_are_refused(path, what, alarm):
    err = error_of(parse_file, path)
    assert err.kind == "io" and what in err.message


def test_a_folder_is_refused_with_a_file_to_try(tmp_path):
    (tmp_path / "ring.ebm").write_text(OK)
    err = error_of(parse_file, tmp_path)
    assert err.kind == "io" and "is a folder" in err.message and "ring.ebm" in err.hint


def test_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BYTES", 64)
    (tmp_path / "m.ebm").write_text(OK + "# " + "-" * 100 + "\n")
    err = error_of(parse_file, tmp_path / "m.ebm")
    assert err.kind == "limit" and "64 bytes" in err.message
    assert files.size_text(3 << 20) == "3 MiB" and files.size_text(1536) == "1.5 KiB"


def test_a_file_of_size_zero_that_is_not_empty_is_still_capped(monkeypatch):
    monkeypatch.setattr(files, "MAX_BYTES", 8)  # /proc files report size 0
    err = error_of(files.read_source, "/proc/self/status")
    assert err.kind == "limit"


def test_encodings(tmp_path):
    (tmp_path / "bom.ebm").write_bytes(b"\xef\xbb\xbf" + OK.encode())
    assert [s.name for s in parse_file(tmp_path / "bom.ebm").stmts if isinstance(s, A.FactorStmt)] == ["f"]
    (tmp_path / "u16.ebm").write_bytes(OK.encode("utf-16"))
    assert "UTF-16" in error_of(parse_file, tmp_path / "u16.ebm").message
    (tmp_path / "bad.ebm").write_bytes(b"var x : real\nfactor f = x^2 # \xc3\xa9t\xc3\xa9 \xff\n")
    err = error_of(parse_file, tmp_path / "bad.ebm")
    assert err.kind == "io" and "byte 0xff at line 2, column 22" in err.message  # columns count characters
    assert ebm.parse("\ufeff" + OK).factors[0].name == "f"


# ------------------------------------------------------------------ includes
@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "prior.ebm").write_text("factor prior : x ~ normal(0, 3)\n")
    (tmp_path / "secret.ebm").write_text("TOPSECRET = 1\n")
    return tmp_path


@pytest.mark.parametrize("path, phrase", [
    ("/etc/passwd.ebm", "is absolute"),
    ("../secret.ebm", "leads outside"),
    ("lib/../../secret.ebm", "leads outside"),
    ("lib/notes.txt", "not a .ebm file"),
    ("", "is empty"),
])
def test_include_paths_that_are_refused(project, path, phrase):
    (project / "sub").mkdir()
    (project / "sub" / "m.ebm").write_text(f'var x : real\ninclude "{path}"\nfactor f = x^2\n')
    err = error_of(ebm.load, "sub/m.ebm")
    assert phrase in err.message and err.span.line == 2
    assert "TOPSECRET" not in err.render()


def test_a_link_out_of_the_folder_is_refused_and_one_inside_followed(project):
    (project / "sub").mkdir()
    os.symlink(project / "secret.ebm", project / "sub" / "out.ebm")
    (project / "sub" / "m.ebm").write_text('include "out.ebm"\n' + OK)
    assert "link to a file elsewhere" in error_of(ebm.load, "sub/m.ebm").message
    os.symlink("lib/prior.ebm", project / "alias.ebm")
    (project / "m.ebm").write_text('var x : real\ninclude "alias.ebm"\nfactor f = x^2\n')
    assert [f.name for f in ebm.load("m.ebm").factors] == ["prior", "f"]


def test_included_fifo_and_device_links_are_refused(project, alarm):
    os.mkfifo(project / "lib" / "pipe.ebm")
    (project / "m.ebm").write_text('include "lib/pipe.ebm"\n' + OK)
    assert error_of(ebm.load, "m.ebm").kind == "io"


def test_an_include_bomb_stops_early(project, alarm):
    for k in range(6):
        (project / f"b{k}.ebm").write_text(f'include "b{k + 1}.ebm"\n' * 10)
    (project / "b6.ebm").write_text("# leaf\n")
    (project / "m.ebm").write_text('include "b0.ebm"\n' + OK)
    err = error_of(ebm.load, "m.ebm")
    assert err.kind == "limit" and str(files.MAX_INCLUDES) in err.message


def test_parse_text_includes_relative_to_the_working_directory(project):
    prog = parse('var x : real\ninclude "lib/prior.ebm"\n')
    assert [type(s).__name__ for s in prog.stmts] == ["Decl", "TildeStmt"]
    assert "leads outside" in error_of(parse, 'include "../x.ebm"\n').message


# ------------------------------------------------------------------ literals
def test_integer_literals():
    span = Span(Source("m.ebm", "1"), 1, 1, 1, 2)
    assert literals.integer(str(literals.INT_MAX), span) == literals.INT_MAX
    assert literals.integer("0" * 5000 + "42", span) == 42
    err = error_of(literals.integer, str(literals.INT_MAX + 1), span)
    assert err.kind == "limit"
    err = error_of(literals.integer, "9" * 100_000, span)  # never int(): Python's digit limit is 4300
    assert "(100000 digits)" in err.message and len(err.message) < 200


def test_real_literals_inf_and_underflow():
    assert error_of(ebm.parse, "var x : real\nfactor f = x * -1e999").span.col == 17
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ebm.parse("var x : real\nfactor f = x^2 + 0.0 * x + 0e5 + 1e-300")
        assert not seen
        ebm.parse("var x : real\nfactor f = x^2 + 1e-999")
    assert len(seen) == 1 and "1e-999 is smaller than the smallest real" in str(seen[0].message)


# ------------------------------------------------------------------ nesting
def test_a_flat_sum_of_500_terms_is_not_deep_nesting():
    m = ebm.parse("var x : real\nfactor f = " + " - ".join(["x"] * 500))
    assert float(m.energy({}, {"x": 1.0})) == -498.0
    assert float(ebm.parse("var x : real\nfactor f = " + " + ".join(["x"] * 590)).energy({}, {"x": 2.0})) == 1180


@pytest.mark.parametrize("text, col, phrase", [
    ("(" * 10_000 + "x" + ")" * 10_000, 12 + nesting.MAX_DEPTH, "brackets are nested more than 200"),
    ("(" * 10_000, 12 + nesting.MAX_DEPTH, "brackets are nested more than 200"),
    ("exp(" * 250 + "x" + ")" * 250, 12 + 4 * nesting.MAX_DEPTH + 3, "brackets are nested more than 200"),
    (" + ".join(["x"] * 50_000), 1, "chains 49999 operators in a row"),
    ("-" * 50_000 + "x", 1, "nested more than 600 operations"),
    ("x if x > 0 else " * 5000 + "x", 1, "chains 5000 operators"),
])
def test_deep_nesting_is_refused_cleanly(text, col, phrase):
    err = error_of(ebm.parse, "var x : real\nfactor f = " + text)
    assert err.kind == "syntax" and phrase in err.message and (err.span.line, err.span.col) == (2, col)


def test_the_recursion_limit_is_raised_only_as_far_as_needed(monkeypatch):
    monkeypatch.setattr(sys, "getrecursionlimit", lambda: 1000)
    raised = []
    monkeypatch.setattr(sys, "setrecursionlimit", raised.append)
    parse("var x : real\nfactor f = " + " + ".join(["x"] * 20))
    assert raised == []
    parse("var x : real\nfactor f = " + " + ".join(["x"] * 500))
    assert raised and 2000 < raised[0] <= nesting._FRAMES_PER_LEVEL * nesting.MAX_OPERATIONS + nesting._FRAMES_SPARE


def test_free_names_of_a_deep_tree_without_recursion():
    e = A.Name(None, "x")
    for k in range(20_000):
        e = A.BinOp(None, "+", e, A.Name(None, f"y{k % 3}"))
    assert A.free_names(e) == {"x", "y0", "y1", "y2"}


# ------------------------------------------------------------------ index forms
@pytest.mark.parametrize("index, kind, phrase, col", [
    ("x[..., ...]", "syntax", "at most one '...'", 23),
    ("x[None, ..., 0, ...]", "syntax", "at most one '...'", 32),
    ("x[::0]", "semantic", "step cannot be 0", 20),
    ("x[1:2:-0]", "semantic", "step cannot be 0", 22),
])
def test_malformed_index_forms(index, kind, phrase, col):
    err = error_of(ebm.parse, f"var x : real[3]\nfactor f = sum({index})")
    assert err.kind == kind and phrase in err.message and (err.span.line, err.span.col) == (2, col)


def test_good_index_forms_still_work():
    m = ebm.parse("var x : real[4]\nfactor f = sum(x[::-1][..., 1:]) + sum(x[None, ...][0])")
    assert float(m.energy({}, {"x": jnp.arange(4.0)})) == 3.0 + 6.0


def test_names_that_are_keywords_in_python_or_jax():
    m = ebm.parse("var lambda : real\nvar jnp : real\nvar __class__ : real\nfactor f = lambda + jnp + __class__")
    assert float(m.energy({}, {"lambda": 1.0, "jnp": 2.0, "__class__": 3.0})) == 6.0
    assert "reserved" in error_of(ebm.parse, "var None : real\nfactor f = 1").message
    assert escaped("a\x1bb") == "a\\u{1B}b"
