"""The kernel Stein discrepancy (:func:`ebmppl.ksd`): its value against a direct NumPy double loop, its
power against a model of the wrong scale, and its level on data from the model (fast: 20 seeds with a loose
bound; slow: 100 seeds, about 5 % rejections at α = 0.05)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import ebmppl
from ebmppl.goodness import KSDResult

STD = ebmppl.parse("var x : real[2]\nx ~ normal(0, 1)\n")
WIDE = ebmppl.parse("var x : real[2]\nx ~ normal(0, 2)\n")
SHIFTED = ebmppl.parse("const m : real[2] = [0.5, -1]\nvar x : real[2]\nx ~ normal(m, 1)\n")


def ksd_double_loop(x, score, c=1.0, beta=-0.5) -> float:
    """KSD² as the U-statistic, term by term: u(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇_x k + tr ∇_x∇_y k,
    the kernel's derivatives by central finite differences (float64), so no closed form is shared with the
    code under test."""
    n, d = x.shape
    k = lambda a, b: (c * c + np.sum((a - b) ** 2)) ** beta  # noqa: E731
    h = 1e-4
    eye = np.eye(d) * h
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            a, b = x[i], x[j]
            gx = np.array([(k(a + e, b) - k(a - e, b)) / (2 * h) for e in eye])
            gy = np.array([(k(a, b + e) - k(a, b - e)) / (2 * h) for e in eye])
            tr = sum((k(a + e, b + e) - k(a + e, b - e) - k(a - e, b + e) + k(a - e, b - e)) / (4 * h * h)
                     for e in eye)
            total += score[i] @ score[j] * k(a, b) + score[i] @ gy + score[j] @ gx + tr
    return total / (n * (n - 1))


@pytest.mark.parametrize("model, score, c, beta", [
    (STD, lambda x: -x, 1.0, -0.5),
    (SHIFTED, lambda x: -(x - np.array([0.5, -1.0])), 1.0, -0.5),
    (WIDE, lambda x: -x / 4.0, 0.7, -0.3),
])
def test_value_matches_a_numpy_double_loop(model, score, c, beta):
    x = np.random.default_rng(3).normal(size=(20, 2)) * 1.3
    r = ebmppl.ksd(model, None, {"x": x}, bootstrap=50, c=c, beta=beta)
    assert isinstance(r, KSDResult) and r.n == 20 and r.bootstrap == 50 and (r.c, r.beta) == (c, beta)
    assert r.statistic == pytest.approx(ksd_double_loop(x, score(x), c, beta), rel=1e-4, abs=1e-6)
    assert 0 < r.p_value <= 1


def test_blocks_do_not_change_the_value(monkeypatch):
    x = np.random.default_rng(4).normal(size=(37, 2))
    whole = ebmppl.ksd(STD, None, {"x": x}, bootstrap=64, key=1)
    from ebmppl import goodness
    monkeypatch.setattr(goodness, "BLOCK_NUMBERS", 5 * 64)  # blocks of 5 rows, the last one padded
    blocked = ebmppl.ksd(STD, None, {"x": x}, bootstrap=64, key=1)
    assert blocked.statistic == pytest.approx(whole.statistic, rel=1e-5, abs=1e-7)
    assert blocked.p_value == whole.p_value


def test_rejects_a_model_of_the_wrong_scale():
    x = np.random.default_rng(5).normal(size=(300, 2))  # N(0, 1) data
    wrong = ebmppl.ksd(WIDE, None, {"x": x}, key=5)  # model N(0, 2²)
    right = ebmppl.ksd(STD, None, {"x": x}, key=5)
    assert wrong.p_value < 0.01 < right.p_value
    assert wrong.statistic > 10 * abs(right.statistic)


def _rejections(seeds, n, bootstrap, alpha=0.05) -> int:
    return sum(ebmppl.ksd(STD, None, {"x": np.random.default_rng(1000 + s).normal(size=(n, 2))},
                          bootstrap=bootstrap, key=s).p_value <= alpha for s in range(seeds))


def test_keeps_its_level_fast():
    # 20 seeds: under a level-5% test, 6 or more rejections has probability 0.0003
    assert _rejections(20, 100, 200) <= 5


@pytest.mark.slow
def test_keeps_its_level_over_100_seeds():
    rejected = _rejections(100, 200, 500)
    # a two-sided 99.9% binomial interval around 5 rejections of 100 (the bootstrap is asymptotic)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 100, 0.05)
    print(f"KSD rejected {rejected} of 100 at alpha = 0.05")
    assert lo <= rejected <= hi


def test_bad_input():
    with pytest.raises(ebmppl.EbmError) as e:
        ebmppl.ksd(STD, None, {"x": np.zeros((10, 2))}, beta=-1.5)
    assert e.value.kind == "usage" and "beta=" in str(e.value)
    pos = ebmppl.parse("var x : positive\nx ~ exponential(1)\n")
    with pytest.raises(ebmppl.EbmError) as e:
        ebmppl.ksd(pos, None, {"x": np.ones(10)})
    assert "real-valued" in str(e.value)
    with pytest.raises(ebmppl.EbmError):
        ebmppl.ksd(STD, None, {"x": np.zeros((1, 2))})


def test_score_ksd_on_the_command_line(tmp_path, capsys):
    import json

    from ebmppl.cli import main
    model = tmp_path / "wide.ebm"
    model.write_text("var x : real[2]\nx ~ normal(0, 2)\n")
    rows = np.random.default_rng(6).normal(size=(200, 2))
    data = tmp_path / "rows.csv"
    data.write_text("x[0],x[1]\n" + "".join(f"{a},{b}\n" for a, b in rows))
    out = tmp_path / "out"
    assert main(["score", str(model), "--data", str(data), "--ksd", "--out", str(out), "--seed", "3", "-q"]) == 0
    assert "wild-bootstrap p" in capsys.readouterr().out
    saved = json.loads((out / "ksd.json").read_text())
    direct = ebmppl.ksd(WIDE, None, {"x": rows}, key=3)
    assert saved["statistic"] == pytest.approx(direct.statistic, rel=1e-5) and saved["p_value"] == direct.p_value
    assert saved["n"] == 200 and saved["p_value"] < 0.01


def test_latents_are_summed_out_of_the_score():
    """x with a binary latent h, E = (x − 2h)²/2: p(x) is the even mixture of N(0, 1) and N(2, 1), whose score
    the double loop gets by hand."""
    model = ebmppl.parse("var x : real\nlatent h : binary\nfactor f = 0.5 * (x - 2 * h)^2\n")
    x = np.random.default_rng(7).normal(1.0, 1.5, size=(20, 1))
    w = np.exp(-0.5 * np.stack([x[:, 0] ** 2, (x[:, 0] - 2) ** 2], axis=1))
    w /= w.sum(axis=1, keepdims=True)
    score = (w[:, :1] * -x + w[:, 1:] * -(x - 2))
    r = ebmppl.ksd(model, None, {"x": x[:, 0]}, bootstrap=20)
    assert r.statistic == pytest.approx(ksd_double_loop(x, score), rel=1e-4, abs=1e-6)
