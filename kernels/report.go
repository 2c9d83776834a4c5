package kernels

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// The resource report: what each kernel costs a streaming multiprocessor.
//
// How many blocks of a kernel an SM holds at once (its occupancy) decides how
// well it hides memory latency. It follows from three numbers per kernel and
// the SM's limits: the registers per thread and the static shared memory
// (ptxas reports both, and spills, when NVRTC compiles with
// --ptxas-options=--verbose), and the block size and dynamic shared memory
// (chosen by the Go wrapper at launch). Report compiles every file for an
// architecture and takes the launch shapes from the wrappers themselves, by
// driving the ops on a dry-run backend at a real model's shapes, so the table
// and the code cannot drift apart.

// KernelStats is one kernel entry's resources on one architecture.
type KernelStats struct {
	File, Entry, Arch string
	Registers         int // per thread
	SpillStores       int // bytes spilled to local memory per thread
	SpillLoads        int
	StaticShared      int // __shared__ arrays, bytes
	DynamicShared     int // bytes per block, as the wrapper launches it
	Threads           int // per block, as the wrapper launches it
	Blocks            int // resident blocks per SM (occupancy)
	Warps             int // resident warps per SM
	Limit             string
}

// smLimits are an architecture's per-SM resources (CUDA occupancy tables).
type smLimits struct {
	threads, blocks, regs, shared int
}

var archLimits = map[int]smLimits{
	80: {2048, 32, 65536, 164 << 10}, // A100
	86: {1536, 16, 65536, 100 << 10}, // RTX 30, A10
	87: {1536, 16, 65536, 164 << 10}, // Orin
	89: {1536, 24, 65536, 100 << 10}, // RTX 40, L4
	90: {2048, 32, 65536, 228 << 10}, // H100, H200
}

// occupancy returns how many blocks of a kernel fit on one SM and what
// limits them: the threads, the block count, the registers (allocated per
// warp in units of 256, and in whole warps per quarter of the register file)
// or the shared memory (each block also reserves 1 KiB on sm_80 and later;
// allocated in units of 128 bytes).
func occupancy(arch, regs, threads, shared int) (int, string) {
	lim, ok := archLimits[arch]
	if !ok || threads <= 0 {
		return 0, "unknown"
	}
	warps := (threads + 31) / 32
	blocks, limit := lim.blocks, "blocks"
	if n := lim.threads / (warps * 32); n < blocks {
		blocks, limit = n, "threads"
	}
	if regs > 0 {
		perWarp := (regs*32 + 255) / 256 * 256
		warpsByRegs := lim.regs / perWarp / 4 * 4
		if n := warpsByRegs / warps; n < blocks {
			blocks, limit = n, "registers"
		}
	}
	perBlock := (shared + 1024 + 127) / 128 * 128
	if n := lim.shared / perBlock; n < blocks {
		blocks, limit = n, "shared memory"
	}
	return blocks, limit
}

var (
	ptxasEntry = regexp.MustCompile(`Compiling entry function '(\w+)' for '(\w+)'`)
	ptxasSpill = regexp.MustCompile(`(\d+) bytes spill stores, (\d+) bytes spill loads`)
	ptxasUsed  = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// parsePtxas reads ptxas's verbose report: per entry, the registers, the
// static shared memory and the spills.
func parsePtxas(log string) map[string]KernelStats {
	out := map[string]KernelStats{}
	var cur string
	for _, line := range strings.Split(log, "\n") {
		if m := ptxasEntry.FindStringSubmatch(line); m != nil {
			cur = m[1]
			out[cur] = KernelStats{Entry: cur, Arch: m[2]}
			continue
		}
		if cur == "" {
			continue
		}
		s := out[cur]
		if m := ptxasSpill.FindStringSubmatch(line); m != nil {
			s.SpillStores, _ = strconv.Atoi(m[1])
			s.SpillLoads, _ = strconv.Atoi(m[2])
		}
		if m := ptxasUsed.FindStringSubmatch(line); m != nil {
			s.Registers, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				s.StaticShared, _ = strconv.Atoi(m[2])
			}
		}
		out[cur] = s
	}
	return out
}

// launchShape is how a wrapper launches an entry: the largest block and
// dynamic shared memory seen.
type launchShape struct{ threads, shared int }

// launchShapes drives every op on a dry-run backend at ModernBERT-base's
// shapes (8 sequences of 512 tokens, hidden 768, 12 heads; attention also at
// head sizes 32 and 128) and records each entry's block size and dynamic
// shared memory, as the wrappers choose them for dev.
func launchShapes(dev cu.DeviceInfo) map[string]launchShape {
	b := newDryBackend(dev)
	modelShapes(b)
	out := map[string]launchShape{}
	for _, l := range b.dry.launches {
		s := out[l.entry]
		s.threads = max(s.threads, int(l.block.X*l.block.Y*l.block.Z))
		s.shared = max(s.shared, l.shmem)
		out[l.entry] = s
	}
	return out
}

// modelShapes runs each op once or twice at a real model's shapes.
func modelShapes(b *Backend) {
	f32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.F32, shape...) }
	i32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.I32, shape...) }
	const bs, s, h, inter, vocab = 8, 512, 768, 1152, 50368
	n := bs * s
	x, y, z := f32(n, h), f32(n, h), f32(n, h)
	b.Add(z, x, y)
	b.Scale(z, x, 2)
	b.AddRowVector(x, f32(h))
	b.Cast(b.New(tensor.BF16, n, h), x)
	b.Cast(f32(n, h), b.New(tensor.BF16, n, h))
	b.Cast(b.New(tensor.I64, n), i32(n))
	b.Cast(i32(n), b.New(tensor.I64, n))
	b.SumLastAxis(f32(n), x)
	b.SumRows(f32(h), x)
	b.SumSquares(x)
	b.Softmax(z, x)
	b.GELU(z, x)
	b.GELUBackward(z, x, y)
	b.LayerNorm(z, f32(n), f32(n), x, f32(h), nil, 1e-5)
	b.LayerNormBackward(z, f32(h), nil, y, x, f32(n), f32(n), f32(h))
	b.GeGLU(f32(n, inter), f32(n, 2*inter))
	b.GeGLU(f32(n, inter-1), f32(n, 2*inter-2))
	b.GeGLUBackward(f32(n, 2*inter), f32(n, 2*inter), f32(n, inter))
	b.GeGLUBackward(f32(n, 2*inter-2), f32(n, 2*inter-2), f32(n, inter-1))
	rms := tensor.RMSNormParams{Eps: 1e-6}
	b.RMSNorm(z, f32(n), x, f32(h), rms)
	b.RMSNormBackward(z, f32(h), y, x, f32(n), f32(h), rms)
	b.RMSNorm(f32(n, h/64, 64), f32(n*h/64), f32(n, h/64, 64), f32(64), rms) // per-head q/k norm
	b.SwiGLU(f32(n, inter), f32(n, 2*inter))
	b.SwiGLU(f32(n, inter-1), f32(n, 2*inter-2))
	b.SwiGLUBackward(f32(n, 2*inter), f32(n, 2*inter), f32(n, inter))
	b.SwiGLUBackward(f32(n, 2*inter-2), f32(n, 2*inter-2), f32(n, inter-1))
	pos := i32(n)
	b.RoPE(f32(n, 36, 64), f32(n, 36, 64), pos, tensor.RoPEParams{Theta: 160000, Heads: 24})
	b.RoPEBackward(f32(n, 36, 64), f32(n, 36, 64), pos, tensor.RoPEParams{Theta: 160000, Heads: 24})
	for _, d := range []int{32, 64, 128} {
		nh := h / d
		qkv, out, lse, mask := f32(bs, s, 3, nh, d), f32(bs, s, nh, d), f32(bs, nh, s), i32(bs, s)
		p := tensor.AttentionParams{Heads: nh, Scale: float32(1 / math.Sqrt(float64(d))), Window: 128}
		for _, bf16 := range []bool{false, true} {
			p.BF16 = bf16
			b.Attention(out, lse, qkv, mask, p)
			b.AttentionBackward(f32(bs, s, 3, nh, d), f32(bs, s, nh, d), qkv, out, lse, mask, p)
		}
	}
	table, ids := f32(vocab, h), i32(n)
	b.Embedding(f32(n, h), table, ids)
	b.EmbeddingBackward(table, ids, f32(n, h), 0)
	b.GatherRows(f32(n/8, h), x, i32(n/8))
	b.ScatterAddRows(x, f32(n/8, h), i32(n/8))
	logits, targets := f32(n/8, vocab), i32(n/8)
	b.CrossEntropy(f32(n/8), f32(n/8), logits, targets, f32(n/8), -100)
	b.CrossEntropyBackward(f32(n/8, vocab), logits, f32(n/8), targets, f32(n/8), 1, -100)
	b.AdamW(x, y, z, f32(n, h), tensor.AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 3})
}

// Report compiles every kernel file for arch (sm_80, sm_90...) with the
// installed NVRTC and returns each entry's resources and occupancy, sorted
// by file and entry. Each file compiles in a child process, as the backend's
// kernels do. With a cache folder (CacheDir()), each cubin is also stored
// where the backend will look for it, so a later run on such a device skips
// the compiler (ptxas's report does not change the binary).
func Report(arch, cache string) ([]KernelStats, error) {
	nv, err := cu.LoadNVRTC()
	if err != nil {
		return nil, err
	}
	r, err := newArchReport(nv, arch)
	if err != nil {
		return nil, err
	}
	var out []KernelStats
	for _, file := range SourceFiles() {
		bin, stats, err := r.file(file)
		if err != nil {
			return nil, err
		}
		if cache != "" {
			src, err := source(file)
			if err != nil {
				return nil, err
			}
			path := filepath.Join(cache, cacheKey(file, src, r.header, compileOptions(arch), nv.Major, nv.Minor))
			if err := os.MkdirAll(cache, 0o755); err != nil {
				return nil, err
			}
			if err := atomicfile.WriteBytes(path, bin, 0o644); err != nil {
				return nil, err
			}
		}
		out = append(out, stats...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Entry < out[j].Entry
	})
	return out, nil
}

// archReport compiles kernel files for one real architecture with ptxas's
// resource report, and knows the wrappers' launch shapes there.
type archReport struct {
	nv     *cu.NVRTC
	arch   string
	num    int // 80 for sm_80
	header string
	shapes map[string]launchShape
}

func newArchReport(nv *cu.NVRTC, arch string) (*archReport, error) {
	var num int
	if _, err := fmt.Sscanf(arch, "sm_%d", &num); err != nil {
		return nil, fmt.Errorf("kernels: architecture %q: want sm_XY", arch)
	}
	header, err := source(commonHeader)
	if err != nil {
		return nil, err
	}
	dev := cu.DeviceInfo{Name: arch, Major: num / 10, Minor: num % 10, SMs: 1, MaxSharedOptin: archLimits[num].shared - 1024}
	return &archReport{nv: nv, arch: arch, num: num, header: header, shapes: launchShapes(dev)}, nil
}

// file compiles one kernel file (in a child process, as the backend does)
// and returns its cubin, the same the backend would build, and each entry's
// resources and occupancy.
func (r *archReport) file(name string) ([]byte, []KernelStats, error) {
	src, err := source(name)
	if err != nil {
		return nil, nil, err
	}
	opts := append(compileOptions(r.arch), "--ptxas-options=--verbose")
	bin, log, err := compileIsolatedLog(r.nv, compileRequest{Name: name, Source: src, Header: r.header, Options: opts})
	if err != nil {
		return nil, nil, err
	}
	stats := parsePtxas(log)
	var out []KernelStats
	for _, e := range kernelEntries[name] {
		s, ok := stats[e]
		if !ok {
			return nil, nil, fmt.Errorf("kernels: ptxas reported nothing for %s in %s", e, name)
		}
		s.File, s.Arch = name, r.arch
		sh := r.shapes[e]
		s.Threads, s.DynamicShared = sh.threads, sh.shared
		s.Blocks, s.Limit = occupancy(r.num, s.Registers, s.Threads, s.StaticShared+s.DynamicShared)
		s.Warps = s.Blocks * ((s.Threads + 31) / 32)
		out = append(out, s)
	}
	return bin, out, nil
}
