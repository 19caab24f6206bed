"""Fixtures for test_lm: a NumPy port of mlx-lm's sample_utils.py filters and
logits processors (mlx_lm/sample_utils.py: apply_top_p, apply_min_p,
apply_xtc, apply_top_k, make_repetition_penalty, make_presence_penalty,
make_frequency_penalty, logit_bias), run in float32 as MLX runs them.

Output: DIR/samplers.txt, one case per line:
  <kind> <params...> | <logits...> | <expected...>
Expected values are the filtered/processed arrays ("-inf" for removed
entries). Kept sets must match exactly; kept values are compared with rtol 1e-6
(the C side computes the same float32 operations; only exp/log/logsumexp
rounding may differ by an ulp). Random logits are redrawn when any value sits
within 1e-5 of a filter's threshold (far above float32 rounding of a cumsum
of at most 1000 terms, ~1e-7 * 1000), so that last-ulp differences cannot
flip membership.
"""
import os
import sys

import numpy as np

f32 = np.float32


def logprobs_of(logits):
    m = logits.max()
    lse = m + np.log(np.sum(np.exp(logits - m, dtype=f32), dtype=f32), dtype=f32)
    return (logits - f32(lse)).astype(f32)


def top_p(lp, p):
    probs = np.exp(lp).astype(f32)
    idx = np.argsort(lp, kind="stable")
    cum = np.cumsum(probs[idx], dtype=f32)
    inv = np.empty_like(idx)
    inv[idx] = np.arange(len(idx))
    cum = cum[inv]
    thr = f32(1 - p)
    margin = np.min(np.abs(cum - thr))
    return np.where(cum > thr, lp, f32(-np.inf)).astype(f32), margin


def min_p(lp, p, keep):
    thr = f32(lp.max() + f32(np.log(p)))
    remove = lp < thr
    if keep > 1:
        top = np.argsort(lp, kind="stable")[-keep:]
        remove[top] = False
    margin = np.min(np.abs(lp - thr))
    return np.where(remove, f32(-np.inf), lp).astype(f32), margin


def top_k(lp, k):
    order = np.argsort(-lp, kind="stable")
    out = lp.copy()
    out[order[k:]] = f32(-np.inf)
    s = np.sort(lp)[::-1]
    return out, s[k - 1] - s[k]


def xtc(logits, prob, thr, special):
    e = np.exp(logits - logits.max(), dtype=f32)
    probs = (e / e.sum(dtype=f32)).astype(f32)
    cand = np.where(probs > f32(thr), probs, f32(np.inf))
    mask = probs > cand.min()
    mask[special] = False
    margin = np.min(np.abs(probs - f32(thr)))
    if prob >= 1.0:  # uniform(0, 1) > 1 is never true: the cut always applies
        return np.where(mask, f32(-np.inf), logits).astype(f32), margin
    return logits.copy(), margin  # prob 0: uniform > 0 (almost) always


def rep_penalty(logits, hist, pen, ctx):
    toks = hist[-ctx:]
    out = logits.copy()
    sel = logits[toks]
    out[toks] = np.where(sel < 0, sel * f32(pen), sel / f32(pen)).astype(f32)
    return out


def presence(logits, hist, pen, ctx):
    out = logits.copy()
    out[hist[-ctx:]] -= f32(pen)
    return out


def frequency(logits, hist, pen, ctx):
    out = logits.copy()
    for t in hist[-ctx:]:
        out[t] -= f32(pen)
    return out


def fmt(a):
    return " ".join("-inf" if np.isneginf(x) else repr(float(x)) for x in a)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(1234)
    lines = []

    def draw(V, scale=2.0):
        return (rng.standard_normal(V) * scale).astype(f32)

    def add(kind, params, inp, exp):
        lines.append(f"{kind} {params} | {fmt(inp)} | {fmt(exp)}")

    # Filters on log-probabilities; several vocabulary sizes incl. odd ones.
    for V in (2, 7, 33, 1000):
        for p in (0.3, 0.9, 0.99):
            while True:
                lp = logprobs_of(draw(V))
                exp, margin = top_p(lp, p)
                if margin > 1e-5:
                    break
            add("top_p", p, lp, exp)
        for p, keep in ((0.05, 1), (0.2, 1), (0.5, 3), (0.9, 1)):
            if keep > V:
                continue
            while True:
                lp = logprobs_of(draw(V))
                exp, margin = min_p(lp, p, keep)
                if margin > 1e-5:
                    break
            add("min_p", f"{p} {keep}", lp, exp)
        for k in (1, 3, V - 1):
            if not 0 < k < V:
                continue
            while True:
                lp = logprobs_of(draw(V))
                exp, gap = top_k(lp, k)
                if gap > 1e-5:
                    break
            add("top_k", k, lp, exp)
        for prob, thr, special in ((1.0, 0.1, []), (1.0, 0.05, [0]), (0.0, 0.1, [])):
            while True:
                lg = draw(V, 3.0)
                exp, margin = xtc(lg, prob, thr, special)
                if margin > 1e-6:
                    break
            sp = " ".join(str(s) for s in special)
            add("xtc", f"{prob} {thr} {len(special)} {sp}".strip(), lg, exp)

    # The chain in mlx-lm's order: top_p -> min_p -> top_k on one input.
    V = 64
    while True:
        lp = logprobs_of(draw(V))
        a, m1 = top_p(lp, 0.95)
        b, m2 = min_p(a, 0.02, 1)
        c, gap = top_k(b, 5)
        if min(m1, m2, gap) > 1e-3:
            break
    add("chain", "0.95 0.02 5", lp, c)

    # Logits processors.
    for V in (16, 100):
        for pen, ctx in ((1.3, 20), (0.7, 4), (2.0, 1)):
            lg = draw(V)
            hist = list(rng.integers(0, V, 12))
            add("rep", f"{pen} {ctx} {len(hist)} " + " ".join(map(str, hist)), lg,
                rep_penalty(lg, np.array(hist), pen, ctx))
        for pen, ctx in ((0.5, 20), (1.5, 3)):
            lg = draw(V)
            hist = list(rng.integers(0, V // 4, 10))  # repeats
            add("pres", f"{pen} {ctx} {len(hist)} " + " ".join(map(str, hist)), lg,
                presence(lg, np.array(hist), pen, ctx))
            lg = draw(V)
            add("freq", f"{pen} {ctx} {len(hist)} " + " ".join(map(str, hist)), lg,
                frequency(lg, np.array(hist), pen, ctx))
        lg = draw(V)
        ids, vals = [3, 5, 3], [2.5, -1.0, 0.25]
        exp = lg.copy()
        for i, v in zip(ids, vals):
            exp[i] += f32(v)
        add("bias", "3 " + " ".join(map(str, ids)) + " " + " ".join(map(str, vals)), lg, exp)

    with open(os.path.join(out_dir, "samplers.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
