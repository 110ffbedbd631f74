"""Hostile data, consts, params and checkpoint files: CSV and NPZ data for ``fit`` and ``score``, params files
for ``sample`` and ``score``, consts files (JSON), and the checkpoints ``fit --resume`` reads."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .harness import Case

# ---------------------------------------------------------------- models and good files
RING = "var x : real[2]\nparam r : positive = 1.0\nfactor f = (norm(x) - r)^2\n"
TWO = "var x : real[2]\nvar y : real\nparam r : positive = 1.0\nfactor f = (norm(x) - r)^2 + y^2\n"
POS = "var s : positive\nparam a : real = 0.0\nfactor f = (log(s) - a)^2\n"
SCALAR = "var y : real\nparam a : real = 0.0\nfactor f = (y - a)^2\n"
SIZED = "const N : int\nconst z : real[N]\nvar x : real\nparam a : real = 0.0\nfactor f = (x - a)^2 + sum(z)\n"
# sm drives s = exp(u) to exactly 0 in float32 with this learning rate: a finite loss, a param outside its domain
UNDERFLOW = "var x : real\nparam s : positive = 1.0\nfactor f = s * x^2\n"

_ROWS = [(1.0, 0.1), (0.0, -0.9), (-0.8, 0.5), (0.6, 0.7), (-0.3, -0.95), (0.9, -0.4), (0.2, 1.1), (-1.0, 0.0)]
CSV = "x[0],x[1]\n" + "".join(f"{a},{b}\n" for a, b in _ROWS)
X = np.array(_ROWS)


def _npz(**arrays) -> bytes:
    b = io.BytesIO()
    np.savez(b, **arrays)
    return b.getvalue()


def _zip(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()


def _npy_header(shape, descr="<f8") -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


def _npy(a) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


# ---------------------------------------------------------------- commands
def fit(data="d.csv", model="m.ebm", *extra):
    return ("fit", model, "--data", data, "--steps", "5", "--out", "{dir}/o", "--no-progress", "--no-report", *extra)


def score(data="d.csv", model="m.ebm", *extra):
    return ("score", model, "--data", data, "--out", "{dir}/o", *extra)


def sample(params="p/params.npz", model="m.ebm", *extra):
    return ("sample", model, "--params", params, "--draws", "20", "--warmup", "20", "--chains", "1", "--out",
            "{dir}/s", "--no-progress", *extra)


def nothing_written(res):
    """No params, scores or samples written, and no temporary file left anywhere."""
    left = [p for p in res.dir.rglob("*") if p.name.endswith(".tmp")]
    assert not left, left
    for out in ("o/params.npz", "o/params.json", "o/scores.csv", "s/samples.nc"):
        assert not (res.dir / out).exists(), out


def scored(n):
    def check(res):
        text = (res.dir / "o" / "scores.csv").read_text()
        assert text.count("\n") == n + 1, text
    return check


def _params(model_text, values, folder="p"):
    """A setup writing good params (with their sidecar) for ``model_text`` into ``folder``."""
    def setup(d: Path):
        import ebmppl
        from ebmppl.io import save_params
        save_params(d / folder / "params.npz", ebmppl.parse(model_text, "m.ebm"), values)
    return setup


def _then(*setups):
    def setup(d: Path):
        for s in setups:
            s(d)
    return setup


def _mutate_sidecar(change):
    def setup(d: Path):
        side = d / "p" / "params.json"
        meta = json.loads(side.read_text())
        out = change(meta)
        side.write_text(out if isinstance(out, str) else json.dumps(out))
    return setup


def _write(rel, content):
    def setup(d: Path):
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return setup


def _mkdir(rel):
    return lambda d: (d / rel).mkdir(parents=True, exist_ok=True)


def _fifo(rel):
    return lambda d: os.mkfifo(d / rel)


def _swap_npz(d: Path):
    """params.npz from another run of the same model, beside the first run's params.json."""
    import ebmppl
    from ebmppl.io import save_params
    save_params(d / "q" / "params.npz", ebmppl.parse(RING, "m.ebm"), {"r": np.float32(2.5)})
    shutil.copy(d / "q" / "params.npz", d / "p" / "params.npz")


# ---------------------------------------------------------------- checkpoints
def _fitted(*extra):
    """A setup running ``fit`` with checkpoints into {dir}/o (the run a ``--resume`` case continues); a copy of
    its params is kept in {dir}/before.npz."""
    def setup(d: Path):
        import contextlib
        from ebmppl.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            rc = main(["fit", str(d / "m.ebm"), "--data", str(d / "d.csv"), "--steps", "5", "--out", str(d / "o"),
                       "--no-progress", "--no-report", "--checkpoint-every", "5", *extra])
        assert rc == 0, err.getvalue()
        shutil.copy(d / "o" / "params.npz", d / "before.npz")
    return setup


def _state(change):
    def setup(d: Path):
        p = d / "o" / "checkpoints" / "state.json"
        meta = json.loads(p.read_text())
        out = change(meta)
        p.write_text(out if isinstance(out, str) else json.dumps(out))
    return setup


def _corrupt_state_npz(d: Path):
    meta = json.loads((d / "o" / "checkpoints" / "state.json").read_text())
    (d / "o" / "checkpoints" / meta["file"]).write_bytes(b"PK\x03\x04 not really a zip")


def resume(*extra, steps="5"):
    return ("fit", "m.ebm", "--data", "d.csv", "--steps", steps, "--out", "{dir}/o", "--no-progress", "--no-report",
            "--resume", "--checkpoint-every", "5", *extra)


def params_kept(res):
    """The earlier run's params are still there, untouched by the refused resume, and no temporary file."""
    assert (res.dir / "o" / "params.npz").read_bytes() == (res.dir / "before.npz").read_bytes()
    assert not [p for p in res.dir.rglob("*") if p.name.endswith(".tmp")]


def no_params(res):
    assert not (res.dir / "o" / "params.npz").exists(), "params outside their domain were written"


def deep(n=100_000):
    return "[" * n + "]" * n


# ---------------------------------------------------------------- the cases
F = {"m.ebm": RING, "d.csv": CSV}
D = "data"

CASES = [
    # ---- CSV: what Python's csv module raises on, and what it lets through
    Case("data-csv-field-over-csv-limit", fit(), {**F, "d.csv": "x[0],x[1]\n1," + "2" * 200_000 + "\n"},
         kind=D, phrase="d.csv: row 2", check=nothing_written),
    Case("data-csv-unclosed-quote", score(), {**F, "d.csv": 'x[0],x[1]\n1,"2\n3,4\n'}, kind=D,
         phrase="d.csv: row 2", check=nothing_written),
    Case("data-csv-text-after-closing-quote", score(), {**F, "d.csv": 'x[0],x[1]\n1,"2"x\n'}, kind=D,
         phrase="d.csv: row 2", check=nothing_written),
    Case("data-csv-nul-in-cell", score(), {**F, "d.csv": b"x[0],x[1]\n1,2\x00\n"}, kind=D,
         phrase="row 2, column 2", check=nothing_written),
    Case("data-csv-nul-in-header", fit(), {**F, "d.csv": b"x[0],x[1]\x00\n1,2\n"}, kind=D,
         phrase="row 1, column 2", check=nothing_written),
    Case("data-csv-empty", fit(), {**F, "d.csv": ""}, kind=D, phrase="d.csv: the file is empty",
         check=nothing_written),
    Case("data-csv-blank-lines-only", score(), {**F, "d.csv": "\n \n\t\n"}, kind=D, phrase="empty"),
    Case("data-csv-bom-only", score(), {**F, "d.csv": b"\xef\xbb\xbf"}, kind=D, phrase="empty"),
    Case("data-csv-header-only", fit(), {**F, "d.csv": "x[0],x[1]\n"}, kind=D, phrase="no data rows"),
    Case("data-csv-duplicate-column", score(), {**F, "d.csv": "x[0],x[1],x[0]\n1,2,3\n"}, kind=D,
         phrase="row 1, column 3: column 'x[0]' appears twice"),
    Case("data-csv-missing-column", fit(), {**F, "d.csv": "x[0]\n1\n"}, kind=D, phrase="'x[1]' is missing"),
    Case("data-csv-column-beyond-shape", score(), {**F, "d.csv": "x[0],x[1],x[2]\n1,2,3\n"}, kind=D,
         phrase="there is a column 'x[2]'"),
    Case("data-csv-unknown-columns-accepted", score(), {**F, "d.csv": "id,x[0],x[1],label\n1,0.5,1,a\n2,1,0.5,b\n"},
         code=0, check=scored(2)),
    Case("data-csv-nan", fit(), {**F, "d.csv": CSV + "nan,1\n"}, kind=D, phrase="row 10, column 1"),
    Case("data-csv-NaN-capitals", score(), {**F, "d.csv": CSV + "1,NaN\n"}, kind=D, phrase="row 10, column 2"),
    Case("data-csv-infinity-word", score(), {**F, "d.csv": CSV + "Infinity,1\n"}, kind=D,
         phrase="row 10, column 1"),
    Case("data-csv-overflows-float32", fit(), {**F, "d.csv": CSV + "1e39,1\n"}, kind=D,
         phrase="row 10, column 1 ('x[0]'): 1e+39", check=nothing_written),
    Case("data-csv-overflow-score", score(), {**F, "d.csv": CSV + "1,-3.5e38\n"}, kind=D,
         phrase="row 10, column 2", check=nothing_written),
    Case("data-csv-underflows-to-zero-outside-positive", score(), {"m.ebm": POS, "d.csv": "s\n1.0\n1e-50\n"},
         kind=D, phrase="row 3, column 1 ('s')", check=nothing_written),
    Case("data-csv-thousands-separator", score(), {**F, "d.csv": 'x[0],x[1]\n"1,000",2\n'}, kind=D,
         phrase="'1,000' is not a number"),
    Case("data-csv-underscore-digits", score(), {**F, "d.csv": "x[0],x[1]\n1_000,2\n"}, kind=D,
         phrase="'1_000' is not a number", check=nothing_written),
    Case("data-csv-arabic-indic-digits", score(), {**F, "d.csv": "x[0],x[1]\n\u0661,2\n"}, kind=D,
         phrase="is not a number", check=nothing_written),
    Case("data-csv-hex-number", score(), {**F, "d.csv": "x[0],x[1]\n0x10,2\n"}, kind=D,
         phrase="'0x10' is not a number"),
    Case("data-csv-crlf-accepted", score(), {**F, "d.csv": CSV.replace("\n", "\r\n")}, code=0, check=scored(8)),
    Case("data-csv-lone-cr-accepted", score(), {**F, "d.csv": CSV.replace("\n", "\r")}, code=0, check=scored(8)),
    Case("data-csv-bom-accepted", score(), {**F, "d.csv": b"\xef\xbb\xbf" + CSV.encode()}, code=0, check=scored(8)),
    Case("data-csv-short-row", fit(), {**F, "d.csv": CSV + "1\n"}, kind=D, phrase="row 10: 1 values"),
    Case("data-csv-not-utf8", score(), {**F, "d.csv": b"x[0],x[1]\n1,2\n\xff,3\n"}, kind=D,
         phrase="row 3: not UTF-8"),
    Case("data-csv-is-a-folder", fit(), {"m.ebm": RING}, setup=_mkdir("d.csv"), kind=D, phrase="d.csv",
         check=nothing_written),
    Case("data-csv-is-a-fifo", score(), {"m.ebm": RING}, setup=_fifo("d.csv"), kind=D, phrase="d.csv",
         timeout=20),
    Case("data-csv-not-found", fit("nope.csv"), {"m.ebm": RING}, kind=D, phrase="'nope.csv' not found"),
    # ---- NPZ data
    Case("data-npz-rows-misaligned", fit("d.npz"), {"m.ebm": TWO, "d.npz": _npz(x=X, y=np.zeros(5))}, kind=D,
         phrase="'x' has 8 rows", check=nothing_written),
    Case("data-npz-rows-misaligned-score", score("d.npz"), {"m.ebm": TWO, "d.npz": _npz(x=X, y=np.zeros(9))},
         kind=D, phrase="'y' has 9", check=nothing_written),
    Case("data-npz-overflows-float32", fit("d.npz"), {"m.ebm": RING, "d.npz": _npz(x=np.vstack([X, [[1e39, 0]]]))},
         kind=D, phrase="array 'x'", check=nothing_written),
    Case("data-npz-object-array", score("d.npz"), {"m.ebm": RING, "d.npz": _npz(x=np.array([[1.0, None]], object))},
         kind=D, phrase="never unpickles"),
    Case("data-npz-text-member", score("d.npz"),
         {"m.ebm": RING, "d.npz": _zip({"x.npy": _npy(X), "readme.txt": b"hello"})}, kind=D,
         phrase="'readme.txt'"),
    Case("data-npz-member-not-npy", fit("d.npz"), {"m.ebm": RING, "d.npz": _zip({"x.npy": b"hello, world"})}, kind=D,
         phrase="array 'x'", check=nothing_written),
    Case("data-npz-huge-header", fit("d.npz"),
         {"m.ebm": RING, "d.npz": _zip({"x.npy": _npy_header((10**12, 2)) + bytes(32)})}, kind=D,
         phrase="array 'x'", check=nothing_written, timeout=30),
    Case("data-npz-huge-header-compressed", score("d.npz"),
         {"m.ebm": RING, "d.npz": _zip({"x.npy": _npy_header((2**40, 2)) + bytes(4096)}, zipfile.ZIP_DEFLATED)},
         kind=D, phrase="array 'x'", timeout=30),
    Case("data-npz-shape-overflows-int64", score("d.npz"),
         {"m.ebm": RING, "d.npz": _zip({"x.npy": _npy_header((2**62, 2**62)) + bytes(32)})}, kind=D,
         phrase="array 'x'", timeout=30),
    Case("data-npz-truncated", fit("d.npz"), {"m.ebm": RING, "d.npz": _npz(x=X)[:200]}, kind=D, phrase="d.npz"),
    Case("data-npz-bad-crc", score("d.npz"),
         {"m.ebm": RING, "d.npz": (lambda b: b[:150] + bytes([b[150] ^ 0xFF]) + b[151:])(_npz(x=X))}, kind=D,
         phrase="d.npz"),
    Case("data-npz-empty-zip", score("d.npz"), {"m.ebm": RING, "d.npz": _zip({})}, kind=D, phrase="no array 'x'"),
    Case("data-npz-complex", score("d.npz"), {"m.ebm": RING, "d.npz": _npz(x=X.astype(complex))}, kind=D,
         phrase="not numbers"),
    Case("data-npz-scalar-for-scalar-var", fit("d.npz"), {"m.ebm": SCALAR, "d.npz": _npz(y=np.float64(1.0))},
         kind=D, phrase="array 'y'", check=nothing_written),
    Case("data-npz-is-a-folder", score("d.npz"), {"m.ebm": RING}, setup=_mkdir("d.npz"), kind=D, phrase="d.npz"),
    Case("data-npz-outside-domain", score("d.npz"), {"m.ebm": POS, "d.npz": _npz(s=np.array([1.0, -2.0]))},
         kind=D, phrase="outside the domain positive"),
    # ---- params files (sample --params, score --params)
    Case("data-params-sidecar-missing", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), lambda d: (d / "p" / "params.json").unlink()),
         kind=D, phrase="params.json", check=nothing_written),
    Case("data-params-sidecar-not-json", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _mutate_sidecar(lambda m: "{not json")),
         kind=D, phrase="params.json"),
    Case("data-params-sidecar-a-list", score("d.csv", "m.ebm", "--params", "p/params.npz"), F,
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _mutate_sidecar(lambda m: "[1, 2]")),
         kind=D, phrase="params.json", check=nothing_written),
    Case("data-params-sidecar-deeply-nested", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _mutate_sidecar(lambda m: deep())),
         kind=D, phrase="params.json", check=nothing_written),
    Case("data-params-sidecar-other-model", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _mutate_sidecar(lambda m: {**m, "fingerprint": "0" * 16})),
         kind=D, phrase="another model"),
    Case("data-params-sidecar-fingerprint-not-a-string", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _mutate_sidecar(lambda m: {**m, "fingerprint": [1]})),
         kind=D, phrase="params.json"),
    Case("data-params-npz-and-json-of-different-runs", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), _swap_npz), kind=D, phrase="params.json",
         check=nothing_written),
    Case("data-params-sidecar-is-a-folder", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}), lambda d: (d / "p" / "params.json").unlink(),
                     _mkdir("p/params.json")), kind=D, phrase="params.json"),
    Case("data-params-npz-is-a-folder", sample(), {"m.ebm": RING}, setup=_mkdir("p/params.npz"), kind=D,
         phrase="params.npz"),
    Case("data-params-not-found", sample("nope.npz"), {"m.ebm": RING}, kind=D, phrase="'nope.npz' not found"),
    Case("data-params-nan", sample(), {"m.ebm": RING}, setup=_params(RING, {"r": np.float64(np.nan)}), kind=D,
         phrase="not finite"),
    Case("data-params-outside-domain", sample(), {"m.ebm": RING}, setup=_params(RING, {"r": np.float64(0.0)}), kind=D,
         phrase="outside the domain positive"),
    Case("data-params-overflow-float32", sample(), {"m.ebm": RING}, setup=_params(RING, {"r": np.float64(1e39)}),
         kind=D, phrase="array 'r'", check=nothing_written),
    Case("data-params-underflow-float32-positive", score("d.csv", "m.ebm", "--params", "p/params.npz"), F,
         setup=_params(RING, {"r": np.float64(1e-60)}), kind=D, phrase="array 'r'", check=nothing_written),
    Case("data-params-huge-header", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}),
                     _write("p/params.npz", _zip({"r.npy": _npy_header((10**6, 10**6)) + bytes(8)}))),
         kind=D, phrase="array 'r'", timeout=30),
    Case("data-params-pickled", sample(), {"m.ebm": RING},
         setup=_then(_params(RING, {"r": np.float32(1.5)}),
                     _write("p/params.npz", _npz(r=np.array([1.5, None], dtype=object)))),
         kind=D, phrase="never unpickles"),
    # ---- consts files (JSON): read by the model's binder
    Case("data-consts-deeply-nested", fit("d.csv", "m.ebm", "--consts", "c.json"),
         {"m.ebm": SIZED, "d.csv": "x\n1\n2\n", "c.json": '{"N": 2, "z": ' + deep() + "}"}, kind=D,
         phrase="c.json", check=nothing_written),
    Case("data-consts-is-a-folder", score("d.csv", "m.ebm", "--consts", "c.json"), {"m.ebm": SIZED, "d.csv": "x\n1\n"},
         setup=_mkdir("c.json"), kind=D, phrase="c.json"),
    Case("data-consts-true-as-a-size", fit("d.csv", "m.ebm", "--consts", "c.json"),
         {"m.ebm": SIZED, "d.csv": "x\n1\n2\n", "c.json": '{"N": true, "z": [1.0]}'}, kind=D, phrase="'N'",
         check=nothing_written),
    # ---- fit: a finite loss whose params left their domain is no success
    Case("data-fit-positive-param-underflows-to-zero", fit("d.csv", "m.ebm", "--method", "sm", "--optimizer", "sgd",
                                                      "--lr", "1000"),
         {"m.ebm": UNDERFLOW, "d.csv": "x\n1\n-1\n0.5\n-2\n1.5\n"}, code=1, phrase="outside",
         check=no_params),
    # ---- checkpoints and resume
    Case("data-resume-state-json-not-json", resume(), F, setup=_then(_fitted(), _state(lambda m: "{oops")), kind=D,
         phrase="state.json", check=params_kept),
    Case("data-resume-state-json-a-list", resume(), F, setup=_then(_fitted(), _state(lambda m: "[]")), kind=D,
         phrase="state.json", check=params_kept),
    Case("data-resume-state-json-deeply-nested", resume(), F, setup=_then(_fitted(), _state(lambda m: deep())), kind=D,
         phrase="state.json", check=params_kept),
    Case("data-resume-state-step-not-a-number", resume(), F,
         setup=_then(_fitted(), _state(lambda m: {**m, "step": "x"})),
         kind=D, phrase="state.json", check=params_kept),
    Case("data-resume-state-file-outside-the-folder", resume(), F,
         setup=_then(_fitted(), _state(lambda m: {**m, "file": "../params.npz"})), kind=D, phrase="state.json",
         check=params_kept),
    Case("data-resume-state-npz-missing", resume(), F,
         setup=_then(_fitted(), _state(lambda m: {**m, "file": "state-99.npz"})), kind=D, phrase="state-99.npz",
         check=params_kept),
    Case("data-resume-state-npz-corrupt", resume(), F, setup=_then(_fitted(), _corrupt_state_npz), kind=D,
         phrase="state-5.npz", check=params_kept),
    Case("data-resume-checkpoints-is-a-file", resume(), F, setup=_write("o/checkpoints", "not a folder"),
         phrase="checkpoints"),
    Case("data-resume-another-lr", resume("--lr", "0.01"), F, setup=_fitted(), kind="fit", phrase="lr",
         check=params_kept),
    Case("data-resume-another-batch-size", resume("--batch-size", "4"), F, setup=_fitted(), kind="fit",
         phrase="batch_size", check=params_kept),
    Case("data-resume-another-data", resume(), F, setup=_then(_fitted(), _write("d.csv", CSV + "0.5,0.5\n")),
         kind="fit", phrase="data", check=params_kept),
    Case("data-resume-another-val-frac", resume("--val-frac", "0.25"), F, setup=_fitted(), kind="fit",
         phrase="val_frac", check=params_kept),
    Case("data-resume-float64-over-float32", resume("--x64"), F, setup=_fitted(), kind="fit", phrase="x64",
         check=params_kept),
    Case("data-resume-another-patience", resume("--val-frac", "0.25", "--patience", "3"), F,
         setup=_fitted("--val-frac", "0.25", "--patience", "2"), kind="fit", phrase="patience", check=params_kept),
    Case("data-resume-past-the-end", resume(steps="3"), F, setup=_fitted(), kind="fit", phrase="step 5",
         check=params_kept),
]
