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
go build "${flags[@]}" -o "$out/dllm" ./cmd/dllm
go test -c "${flags[@]}" -o "$out/cu.test" ./kernels/cu
go test -c "${flags[@]}" -o "$out/kernels.test" ./kernels
go test -c "${flags[@]}" -o "$out/bench.test" ./bench
go test -c "${flags[@]}" -o "$out/nccl.test" ./dist/nccl

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# run.sh (written by scripts/gpu-bins.sh): the first GPU run, as one command.
# On a GPU machine without Go it runs, in order:
#   1. the kernel resource table for the device (dllm kernels compile), which
#      also fills the kernel cache, so the tests after it skip the compiler;
#   2. every top-level test of the driver binding (cu.test) and of the CUDA
#      backend (kernels.test: the conformance suite, the model-level checks),
#      each in a process of its own with its own timeout, so that one crash
#      or hang cannot hide the others;
#      then the NCCL tests (nccl.test: two GPUs, skipped below that);
#   3. the kernel benchmarks, then the end-to-end ones (ModernBERT-base
#      training steps and sampling, bench.test).
# DLLM_REQUIRE_GPU=1 makes every GPU test fail instead of skip. Logs and
# summary.json (card, driver, NVRTC, each test's result and time, each
# benchmark line) go to $OUT when it is set, else to .gpu/logs. The whole run
# fits in about 11 minutes. Exits non-zero if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${OUT:-$here/logs}
mkdir -p "$logs"
export DLLM_REQUIRE_GPU=1
export DLLM_KERNEL_CACHE=${DLLM_KERNEL_CACHE:-$here/kernel-cache}
status=0
results="$logs/results.tsv"
: >"$results"

{ nvidia-smi; uname -a; } >"$logs/machine.txt" 2>&1 || true

echo "== kernel resources for this device (and the kernel cache)"
timeout 180 "$here/dllm" kernels compile --cache "$DLLM_KERNEL_CACHE" 2>&1 | tee "$logs/kernels-compile.txt" || status=1

# each runs every top-level GPU test of a binary in its own process (the
# tests that need no GPU ran in CI already).
each() {
	local bin=$1 limit=$2 name=$3
	for t in $("$here/$bin" -test.list '^Test(GPU|Conformance)' 2>/dev/null); do
		local start=$SECONDS
		timeout "$limit" "$here/$bin" -test.v -test.count=1 -test.run "^$t\$" >"$logs/$name-$t.log" 2>&1
		local rc=$?
		local verdict=pass
		if [ $rc -ne 0 ]; then verdict=fail; status=1; fi
		if [ $rc -eq 124 ]; then verdict=timeout; fi
		if grep -q -- "--- SKIP: $t " "$logs/$name-$t.log"; then verdict=skip; fi
		printf '%s\t%s\t%s\t%d\n' "$name" "$t" "$verdict" $((SECONDS - start)) | tee -a "$results"
	done
}

echo "== kernels/cu tests (driver, NVRTC, cuBLASLt, graphs)"
each cu.test 60 cu
echo "== kernels tests (conformance suite and GPU checks)"
each kernels.test 150 kernels

echo "== NCCL between GPUs (skips below 2 GPUs; TestGPUNCCLComm also needs mpirun)"
each nccl.test 120 nccl

echo "== kernel benchmarks"
timeout 150 "$here/kernels.test" -test.run '^$' -test.bench . -test.benchtime 20x 2>&1 | tee "$logs/kernels-bench.log" || status=1

echo "== end-to-end: the GPU workload against the CPU, then ModernBERT-base training and sampling"
timeout 180 "$here/bench.test" -test.v -test.run GPU -test.bench GPU -test.benchtime 5x 2>&1 | tee "$logs/bench.log" || status=1

# summary.json: machine, each test, each benchmark line, as JSON without jq.
json() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/ /g' | awk 'BEGIN{ORS=""} NR>1{print "\\n"} {print}'; }
{
	printf '{\n  "gpu": "%s",\n' "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 | json)"
	printf '  "nvrtc": "%s",\n' "$(grep -h -m1 -o 'NVRTC [0-9.]* ([^)]*)' "$logs"/kernels-*.log 2>/dev/null | head -1 | json)"
	printf '  "route": "%s",\n' "$(grep -h -m1 -o 'kernel route: .*' "$logs"/kernels-*.log 2>/dev/null | head -1 | json)"
	printf '  "tests": [\n'
	awk -F'\t' '{printf "%s    {\"binary\": \"%s\", \"test\": \"%s\", \"result\": \"%s\", \"seconds\": %s}", (NR>1?",\n":""), $1, $2, $3, $4}' "$results"
	printf '\n  ],\n  "benchmarks": [\n'
	grep -hE '^Benchmark' "$logs/kernels-bench.log" "$logs/bench.log" 2>/dev/null | awk '{gsub(/\t/, " "); gsub(/"/, "\\\""); printf "%s    \"%s\"", (NR>1?",\n":""), $0}'
	printf '\n  ],\n  "status": %d\n}\n' $status
} >"$logs/summary.json"

echo "== summary"
cut -f3 "$results" | sort | uniq -c
grep -hE '^Benchmark' "$logs/kernels-bench.log" "$logs/bench.log" || true
exit $status
RUN
chmod +x "$out/run.sh"
ls -l "$out"
