#!/usr/bin/env python3
"""Time numpy's float32 matmul (OpenBLAS sgemm when numpy is linked to it) on
the shapes of tensor/gemm's BenchmarkMatMul, and print lines in Go benchmark
format so the two can be read side by side:

    BenchmarkMatMul/openblas/1024x1024x1024   20   5213000 ns/op   206.0 GFLOP/s   103.0 GFLOP/cpu-s

Shapes are M x K x N: C[M,N] = A[M,K] @ B[K,N]; "-NT" reads B transposed
(stored [N,K]), "-TN" reads A transposed (stored [K,M]), as in the Go names.

Usage (Debian: apt-get install python3-numpy libopenblas0-pthread
python3-threadpoolctl; python3-numpy alone brings the slow reference BLAS):

    env -u OPENBLAS_CORETYPE python3 bench/sgemm_openblas.py [--threads N] [--trials T]
    env -u OPENBLAS_CORETYPE python3 bench/sgemm_openblas.py --compare 5

--compare R runs R rounds, each the Go benchmarks (go test -bench, from the
repository root) then this one, alternating so that both see the same load,
and prints per shape the best and median of each column and the ratios.

OPENBLAS_CORETYPE, when set, forces OpenBLAS's kernel choice; unset it to get
the kernel it picks for this CPU. The header reports which BLAS numpy loaded
and the kernel (threadpoolctl's "architecture") when threadpoolctl is there.

GFLOP/s is from wall time (best trial); GFLOP/cpu-s is from the process's CPU
time over the same trial, as the Go benchmark reports it. OpenBLAS's idle
threads spin while they wait, which counts as CPU time, so with several
threads its GFLOP/cpu-s understates how well the busy cores are used; with
--threads 1 the two measure the same thing.
"""

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = [
    # (M, K, N, transA, transB)
    (1024, 1024, 1024, False, False),
    (2048, 256, 768, False, False),
    (2048, 768, 256, False, False),
    (2048, 256, 4096, False, False),
    (2048, 4096, 256, False, False),
    (1024, 1024, 1024, False, True),
    (1024, 1024, 1024, True, False),
    (2048, 256, 768, False, True),
    (256, 2048, 768, True, False),
    # the transposed-A products of the backward pass (dW = dyT x) at the
    # small model's shapes, and the short products of sampling (16-32 rows
    # times a weight stored [out, in])
    (768, 2048, 256, True, False),
    (4096, 2048, 256, True, False),
    (16, 768, 50368, False, True),
    (16, 256, 50368, False, True),
    (32, 256, 1024, False, True),
    (32, 768, 1024, False, True),
]


def name(m, k, n, ta, tb):
    s = f"{m}x{k}x{n}"
    if ta and tb:
        s += "-TT"
    elif ta:
        s += "-TN"
    elif tb:
        s += "-NT"
    return s


def describe_blas(threads):
    """Limit the BLAS threads if asked, and print what BLAS numpy uses.
    Returns the threadpoolctl limiter, or None."""
    print(f"# numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    try:
        import threadpoolctl
    except ImportError:
        print("# threadpoolctl not installed: BLAS kernel and thread count not reported, --threads ignored")
        return None
    limiter = None
    if threads:
        limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    for info in threadpoolctl.threadpool_info():
        if info.get("user_api") == "blas":
            print(
                "# blas: {internal_api} {version} kernel={architecture} "
                "threads={num_threads} ({filepath})".format(
                    **{k: info.get(k) for k in
                       ("internal_api", "version", "architecture", "num_threads", "filepath")}))
    return limiter


def bench(m, k, n, ta, tb, trials, min_time, rng):
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    a_op = a.T if ta else a
    b_op = b.T if tb else b
    c = np.empty((m, n), dtype=np.float32)
    np.matmul(a_op, b_op, out=c)  # warm up, and size the runs
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            np.matmul(a_op, b_op, out=c)
        if time.perf_counter() - t0 >= min_time / 4 or iters > 1 << 20:
            break
        iters *= 2
    per_op = []  # (wall seconds, CPU seconds) per product, for each trial
    for _ in range(trials):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            np.matmul(a_op, b_op, out=c)
        per_op.append(((time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters))
    return iters, per_op


def run_openblas(args, rng, out):
    """Time every shape once per trial; print and collect GFLOP/s."""
    for m, k, n, ta, tb in SHAPES:
        if args.only and not re.search(args.only, name(m, k, n, ta, tb)):
            continue
        iters, per_op = bench(m, k, n, ta, tb, args.trials, args.min_time, rng)
        flops = 2.0 * m * n * k
        best, best_cpu = min(per_op)
        med = statistics.median(wall for wall, _ in per_op)
        shape = name(m, k, n, ta, tb)
        out[("openblas", shape)].extend(flops / wall / 1e9 for wall, _ in per_op)
        print(f"BenchmarkMatMul/openblas/{shape:24s}\t{iters:8d}\t"
              f"{best * 1e9:14.0f} ns/op\t{flops / best / 1e9:10.2f} GFLOP/s\t"
              f"{flops / best_cpu / 1e9:10.2f} GFLOP/cpu-s\t"
              f"# median {flops / med / 1e9:.2f} GFLOP/s over {args.trials} trials", flush=True)


GO_LINE = re.compile(r"^BenchmarkMatMul/(\w+)/(\S+?)(?:-\d+)?\s.*?([\d.]+) GFLOP/s")


def run_go(args, out):
    """Run the Go benchmarks once; print their lines and collect GFLOP/s."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    kinds = "f32" if args.only else "(f32|avx512|avx2|gonum)"
    cmd = ["go", "test", "-run", "^$", "-bench", f"MatMul/{kinds}/{args.only}",
           "-benchtime", f"{args.min_time}s", "./tensor/gemm"]
    env = dict(os.environ, CGO_ENABLED="0")
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
    for line in res.stdout.splitlines():
        mt = GO_LINE.match(line)
        if mt:
            print(line, flush=True)
            out[(mt.group(1), mt.group(2))].append(float(mt.group(3)))


def print_table(out):
    cols = ["f32", "avx512", "avx2", "gonum", "openblas"]
    shapes = []
    for _, shape in out:
        if shape not in shapes:
            shapes.append(shape)
    print("\n# GFLOP/s, best (median) of the rounds; ratios of the bests")
    print(f"{'shape MxKxN':22s}" + "".join(f"{c:>16s}" for c in cols) + "  f32/openblas  f32/gonum")
    for shape in shapes:
        row = f"{shape:22s}"
        for c in cols:
            v = out.get((c, shape))
            row += f"{max(v):8.1f} ({statistics.median(v):5.1f})" if v else f"{'-':>16s}"
        f32, ob, gn = (out.get((c, shape)) for c in ("f32", "openblas", "gonum"))
        row += f"  {max(f32) / max(ob):12.2f}" if f32 and ob else f"  {'-':>12s}"
        row += f"  {max(f32) / max(gn):9.2f}" if f32 and gn else ""
        print(row)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="BLAS threads (0: the library's default)")
    ap.add_argument("--trials", type=int, default=5, help="timed trials per shape; best and median are printed")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per trial, roughly")
    ap.add_argument("--only", default="", metavar="REGEXP",
                    help="only the shapes whose names match (and, with --compare, only Go's f32 column)")
    ap.add_argument("--compare", type=int, default=0, metavar="R",
                    help="alternate R rounds of the Go benchmarks and this one, then print a table")
    args = ap.parse_args()
    limiter = describe_blas(args.threads)
    rng = np.random.default_rng(1)
    out = collections.defaultdict(list)
    if args.compare:
        args.trials = 1
        for _ in range(args.compare):
            run_go(args, out)
            run_openblas(args, rng, out)
        print_table(out)
    else:
        run_openblas(args, rng, out)
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
