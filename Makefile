# dllm: the one place that says how to build, test and benchmark.
# Everything builds with CGO_ENABLED=0: the CUDA path is dlopened at run time.
export CGO_ENABLED := 0
GO ?= go
PKGS := ./...

.PHONY: build test test-short fuzz vet fmt-check bench demo gpu-bins clean

# dllm --version prints the module version and the VCS revision the go
# command stamps in; REVISION covers builds without it (-buildvcs=false).
REVISION ?= $(shell git describe --always --dirty 2>/dev/null)

build:
	$(GO) build -ldflags "-X main.buildRevision=$(REVISION)" -o bin/dllm ./cmd/dllm

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The one test command (README, .ci/run). Long training checks stay behind flags
# that the README names; this stays under 10 minutes on 2 cores.
test: fmt-check vet
	$(GO) test -count=1 -timeout 15m $(PKGS)

# The edit-test loop: the same packages with -short, which skips training
# runs, Monte Carlo loops, the kernels' real compiles and the other slow
# tests (under a minute on 2 cores; the README's testing section).
test-short:
	$(GO) test -short -count=1 -timeout 5m $(PKGS)

# Each fuzzer of a file parser for FUZZTIME (make fuzz FUZZTIME=5m). `make
# test` runs their seed corpora (testdata/fuzz); an input that fails is
# written there by go test: fix the bug and keep the file.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./tensor/safetensors:FuzzParse \
	./modeldir:FuzzConfig \
	./modeldir:FuzzTokenizerConfig \
	./modeldir:FuzzGenerationConfig \
	./data/tokenizer:FuzzTokenizerJSON \
	./data/tokenizer:FuzzSplitGPT2 \
	./data:FuzzChatJSONL \
	./serve:FuzzDecodeChatRequest \
	./editflow:FuzzAlign \
	./train:FuzzTrainerState

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./tensor/... ./data/... ./bench/...

demo: build
	./bin/dllm demo

# Cross-built test and benchmark binaries for a GPU machine without Go.
gpu-bins:
	./scripts/gpu-bins.sh

clean:
	rm -rf bin .gpu
