#!/usr/bin/env python3
"""Reference values for test/unit/verify-stats.test.ts, computed with scipy.

Prints every scipy value the test compares harness/verify/stats.ts with, next to its inputs, in
the test's order and grouping (one header per `it`). The test asserts them to 1e-7 .. 1e-12
relative; values are printed with repr (shortest round-trip form).

Pinned: scipy==1.17.0 with numpy==2.4.6 on Python 3.11 (scripts/requirements-reference.txt).
Run it in a throwaway virtualenv, outside the checkout:

    python3 -m venv /tmp/scipy-ref && /tmp/scipy-ref/bin/pip install -r scripts/requirements-reference.txt
    /tmp/scipy-ref/bin/python scripts/scipy-reference.py

Definitions follow stats.ts, not scipy's own conventions where the two could differ:
- an "alternative" scales one replica's weight by 0.5 or 2 and renormalizes (3 equal replicas:
  double = .5/.25/.25, half = .2/.4/.4); its noncentrality per request is
  sum((p1 - p0)^2 / p0) (Cohen's w^2), so lambda = n * that;
- the required noncentrality is the root of ncx2.sf(chi2.isf(alpha, df), df, lambda) = power,
  printed twice: found by the same bisection as requiredNoncentrality() (upper bound doubled
  from 1 until ncx2.sf >= power, then halved until hi - lo <= 1e-10 * hi; the upper end is
  returned), and solved to full precision (bisection down to 1e-15 relative), which is the
  test's constant; the two agree to about 5e-11 relative;
- the sample size is max(ceil(lambda / hardest lambda per request), ceil(5 / min p0)), the
  hardest alternative being the one with the smallest noncentrality per request.
"""
import math

import numpy
import scipy
from scipy import special, stats

PINNED_SCIPY = "1.17.0"


def header(title: str) -> None:
    print(f"\n## {title}")


def show(call: str, value) -> None:
    print(f"{call} = {value!r}")


def to_probabilities(weights):
    total = sum(weights)
    return [w / total for w in weights]


def noncentrality_per_request(p0, p1):
    return sum((b - a) ** 2 / a for a, b in zip(p0, p1) if a > 0)


def alternatives(p0, factors=(0.5, 2)):
    out = []
    for i in range(len(p0)):
        for factor in factors:
            probs = to_probabilities([p * factor if j == i else p for j, p in enumerate(p0)])
            out.append({"index": i, "factor": factor, "probs": probs, "lambda": noncentrality_per_request(p0, probs)})
    return out


def hardest_alternative(p0):
    best = None
    for alt in alternatives(p0):
        if best is None or alt["lambda"] < best["lambda"]:
            best = alt
    return best


def required_noncentrality(df, alpha, power, rel=1e-10):
    crit = stats.chi2.isf(alpha, df)
    lo, hi = 0.0, 1.0
    while stats.ncx2.sf(crit, df, hi) < power:
        hi *= 2
    for _ in range(200):
        if not hi - lo > rel * hi:
            break
        mid = (lo + hi) / 2
        if stats.ncx2.sf(crit, df, mid) < power:
            lo = mid
        else:
            hi = mid
    return float(hi)


def sample_size(p0, alpha=1e-6, power=0.99):
    if len(p0) < 2:
        return 0
    lam = required_noncentrality(len(p0) - 1, alpha, power)
    min_p = min(p for p in p0 if p > 0)
    return max(math.ceil(lam / hardest_alternative(p0)["lambda"]), math.ceil(5 / min_p))


def main() -> None:
    print(f"# scipy {scipy.__version__}, numpy {numpy.__version__} (pinned: scipy {PINNED_SCIPY})")
    if scipy.__version__ != PINNED_SCIPY:
        print(f"# WARNING: not the pinned scipy {PINNED_SCIPY}; values may differ in the last digits")

    print("\n# special functions (scipy reference values)")
    header("lnGamma: scipy.special.gammaln(x)")
    for x in [0.1, 0.5, 1, 1.5, 2.5, 10, 50.5, 171.3, 1000]:
        show(f"gammaln({x!r})", float(special.gammaln(x)))

    header("regularized lower incomplete gamma P(a, x): scipy.special.gammainc(a, x)")
    for a, x in [(0.5, 0.1), (1, 1), (1, 3), (2.5, 1.2), (10, 3), (10, 15), (50, 40), (50, 70), (0.5, 30), (100.5, 150)]:
        show(f"gammainc({a!r}, {x!r})", float(special.gammainc(a, x)))

    header("regularized upper incomplete gamma Q(a, x), including tiny tails: scipy.special.gammaincc(a, x)")
    # 13.815510557964274 = -ln(1e-6), so Q(1, x) = exp(-x) = 1e-6.
    for a, x in [(0.5, 0.1), (1, 20), (2.5, 40), (10, 60), (1, -math.log(1e-6)), (5, 30), (100, 200), (1.5, 45)]:
        show(f"gammaincc({a!r}, {x!r})", float(special.gammaincc(a, x)))

    header("chi-square survival function (p-values): scipy.stats.chi2.sf(x, k)")
    for x, k in [(3.84, 1), (27.63, 2), (5.99, 2), (100, 3), (60, 5), (1.0, 4), (30.0, 10)]:
        show(f"chi2.sf({x!r}, {k})", float(stats.chi2.sf(x, k)))

    header("chi-square critical values: scipy.stats.chi2.isf(alpha, k)")
    for alpha, k in [(0.05, 1), (1e-6, 1), (1e-6, 2), (1e-6, 3), (1e-6, 9), (0.01, 2), (1e-6, 49)]:
        show(f"chi2.isf({alpha!r}, {k})", float(stats.chi2.isf(alpha, k)))

    header("noncentral chi-square CDF and survival function: scipy.stats.ncx2.cdf / ncx2.sf(x, k, lambda)")
    crit2 = float(stats.chi2.isf(1e-6, 2))  # 27.631021115928547
    for x, k, lam in [(10, 2, 5), (crit2, 2, 60), (3, 3, 0.5), (50, 4, 30), (400, 10, 350), (20, 1, 2)]:
        show(f"ncx2.cdf({x!r}, {k}, {lam!r})", float(stats.ncx2.cdf(x, k, lam)))
    for x, k, lam in [(crit2, 2, 56.4), (30.66, 3, 70), (10, 2, 0.1), (100, 5, 10), (1500, 3, 1200), (30, 2, 5)]:
        show(f"ncx2.sf({x!r}, {k}, {lam!r})", float(stats.ncx2.sf(x, k, lam)))

    print("\n# chi-square goodness of fit")
    header("computes Pearson's statistic and p-value: scipy.stats.chisquare([30, 50, 20])")
    r = stats.chisquare([30, 50, 20])
    show("chisquare([30, 50, 20]).statistic", float(r.statistic))
    show("chisquare([30, 50, 20]).pvalue", float(r.pvalue))
    show("exp(-7)", math.exp(-7))

    print("\n# power and sample size")
    header("defines half/double as a relative weight of 0.5/2 (anchors: 3 replicas -> 451 and 704)")
    p0 = [1 / 3, 1 / 3, 1 / 3]
    alts = alternatives(p0)
    double = next(a for a in alts if a["factor"] == 2 and a["index"] == 0)
    half = next(a for a in alts if a["factor"] == 0.5 and a["index"] == 0)
    show("double.probs[0]", double["probs"][0])
    show("half.probs[0]", half["probs"][0])
    show("double.lambdaPerRequest", double["lambda"])
    show("half.lambdaPerRequest", half["lambda"])
    show("requiredNoncentrality(df=2, alpha=1e-6, power=0.99), stats.ts's stopping rule", required_noncentrality(2, 1e-6, 0.99))
    show("requiredNoncentrality(df=2, alpha=1e-6, power=0.99), to 1e-15", required_noncentrality(2, 1e-6, 0.99, rel=1e-15))
    show("ncx2.sf(chi2.isf(1e-6, 2), 2, 451 * 0.125)  (>= 0.99)", float(stats.ncx2.sf(crit2, 2, 451 * 0.125)))
    show("ncx2.sf(chi2.isf(1e-6, 2), 2, 450 * 0.125)  (< 0.99)", float(stats.ncx2.sf(crit2, 2, 450 * 0.125)))
    show("hardestAlternative([1/3, 1/3, 1/3]).factor", hardest_alternative(p0)["factor"])

    header("sizes the sample like scipy does: alpha 1e-6, power 0.99")
    cases = [
        ("[0.5, 0.5]", [0.5, 0.5]),
        ("[1/3, 1/3, 1/3]", p0),
        ("[0.25] * 4", [0.25] * 4),
        ("[0.2] * 5", [0.2] * 5),
        ("[0.1] * 10", [0.1] * 10),
        ("[0.5, 0.25, 0.25]", [0.5, 0.25, 0.25]),
        ("[0.4, 0.2, 0.2, 0.2]", [0.4, 0.2, 0.2, 0.2]),
    ]
    for name, probs in cases:
        show(f"chiSquareSampleSize({name}).n", sample_size(probs))
    show("chiSquareSampleSize([1/3, 1/3, 1/3], alpha=0.01).n", sample_size(p0, alpha=0.01))
    show("chiSquareSampleSize([1]).n", sample_size([1.0]))


if __name__ == "__main__":
    main()
