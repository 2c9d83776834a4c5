#!/usr/bin/env python3
"""Writes mdlm/testdata/transfer_counts.json.gz: the reference framework's
deterministic transfer counts (how many masks each sampling step reveals),
computed the way it computes them: s and t as float32 tensors, alpha and the
ratio (1-alpha(s))/(1-alpha(t)) in float32, then left * (1 - ratio) in
float64, rounded half to even, capped by what is left, zero steps dropped.

Needs PyTorch (Debian: python3-torch). Run from the repository root:
    /usr/bin/python3 scripts/gen-transfer-counts.py
"""
import gzip
import json
import math

import torch


def alpha(name, x):
    if name == "linear":
        return 1 - x
    return 1 - torch.cos((math.pi / 2) * (1 - x))


def ratio(name, s, t):
    s32 = torch.as_tensor(s, dtype=torch.float32)
    t32 = torch.as_tensor(t, dtype=torch.float32)
    return ((1 - alpha(name, s32)) / (1 - alpha(name, t32))).item()


def counts(name, n, steps):
    left = torch.tensor(n, dtype=torch.int64)
    out = []
    for j in range(steps):
        t = (steps - j) / steps
        s = (steps - j - 1) / steps
        p = 1 - ratio(name, s, t)
        k = torch.round(left.to(torch.float64) * p).to(torch.int64)
        k = torch.minimum(k, left)
        left = left - k
        if k.item() > 0:
            out.append(int(k.item()))
        if left.item() == 0:
            break
    return out


def main():
    cases = []
    for name in ("linear", "cosine"):
        for n in range(1, 65):
            for steps in list(range(1, 65)) + [128]:
                cases.append({"schedule": name, "n": n, "steps": steps,
                              "counts": counts(name, n, steps)})
    doc = {"torch": torch.__version__, "cases": cases}
    tmp = "mdlm/testdata/transfer_counts.json.gz.tmp"
    with gzip.open(tmp, "wt") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    import os
    os.replace(tmp, "mdlm/testdata/transfer_counts.json.gz")


if __name__ == "__main__":
    main()
