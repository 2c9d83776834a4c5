# dllm: the one place that says how to build, test and benchmark.
# Everything builds with CGO_ENABLED=0: the CUDA path is dlopened at run time.
export CGO_ENABLED := 0
GO ?= go
PKGS := ./...

.PHONY: build test vet fmt-check bench demo gpu-bins clean

build:
	$(GO) build -o bin/dllm ./cmd/dllm

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The one test command (README, .ci/run). Long training checks stay behind flags
# that the README names; this stays under 10 minutes on 2 cores.
test: fmt-check vet
	$(GO) test -count=1 -timeout 15m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./tensor/... ./data/... ./bench/...

demo: build
	./bin/dllm demo

# Cross-built test and benchmark binaries for a GPU machine without Go.
gpu-bins:
	./scripts/gpu-bins.sh

clean:
	rm -rf bin .gpu
