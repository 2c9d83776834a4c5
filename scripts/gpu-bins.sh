#!/usr/bin/env bash
# gpu-bins.sh cross-builds the GPU test and benchmark binaries into the
# git-ignored .gpu/, with a run.sh beside them, so that a machine with a GPU
# and no Go toolchain can run them: copy .gpu/ there and run .gpu/run.sh.
#
# The binaries are static (CGO_ENABLED=0): the CUDA libraries are opened at
# run time, so nothing of CUDA is needed to build them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.gpu
rm -rf "$out"
mkdir -p "$out"
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-trimpath -ldflags="-s -w")
go test -c "${flags[@]}" -o "$out/cu.test" ./kernels/cu
go test -c "${flags[@]}" -o "$out/kernels.test" ./kernels
go test -c "${flags[@]}" -o "$out/bench.test" ./bench

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# run.sh (written by scripts/gpu-bins.sh): on a GPU machine, runs the driver
# binding tests, the CUDA backend's tests (the conformance suite against the
# CPU and float64 references), the kernel benchmarks and the end-to-end ones
# (ModernBERT-base training steps and sampling). DLLM_REQUIRE_GPU=1
# makes every GPU test fail instead of skip when no GPU can be used. Logs go
# to $OUT when it is set, else to .gpu/logs. Exits non-zero if a test failed.
# The per-binary timeouts (2 + 4 + 2 + 3 minutes) keep a hang from eating a
# whole lent-device session; each log is written as it goes, so what ran
# before a kill comes back.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${OUT:-$here/logs}
mkdir -p "$logs"
export DLLM_REQUIRE_GPU=1
export DLLM_KERNEL_CACHE=${DLLM_KERNEL_CACHE:-$here/kernel-cache}
status=0

{ nvidia-smi; uname -a; } >"$logs/machine.txt" 2>&1 || true

echo "== kernels/cu tests (driver, NVRTC, cuBLASLt, graphs)"
"$here/cu.test" -test.v -test.count=1 -test.timeout 2m 2>&1 | tee "$logs/cu-test.log" || status=1

echo "== kernels tests (conformance suite and GPU checks)"
"$here/kernels.test" -test.v -test.count=1 -test.timeout 4m 2>&1 | tee "$logs/kernels-test.log" || status=1

echo "== kernel benchmarks"
"$here/kernels.test" -test.run '^$' -test.bench . -test.benchtime 20x -test.timeout 2m 2>&1 | tee "$logs/kernels-bench.log" || status=1

echo "== end-to-end: the GPU workload against the CPU, then ModernBERT-base training and sampling"
"$here/bench.test" -test.v -test.run GPU -test.bench GPU -test.benchtime 5x -test.timeout 3m 2>&1 | tee "$logs/bench.log" || status=1

echo "== summary"
grep -hE '^(--- FAIL|FAIL|ok|PASS)' "$logs/cu-test.log" "$logs/kernels-test.log" | sort | uniq -c
grep -hE '^(--- FAIL|ok|FAIL)' "$logs/bench.log" | sort | uniq -c
grep -hE '^Benchmark' "$logs/kernels-bench.log" "$logs/bench.log" || true
exit $status
RUN
chmod +x "$out/run.sh"
ls -l "$out"
