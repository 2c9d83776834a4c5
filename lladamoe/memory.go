package lladamoe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/tensor"
)

// IgnoreMemoryEnv, set to 1, makes Load skip its memory check.
const IgnoreMemoryEnv = "DLLM_IGNORE_MEMORY"

// checkMemory refuses, in one line, a model whose float32 weights (the
// form they take on the device, whatever their dtype on disk) need more
// memory than the machine has available: RND1's 30B, say, on a CPU with
// 24 GB. It checks the CPU backend on Linux (MemAvailable); other devices
// report their own allocation failures.
func checkMemory(cfg Config, be tensor.Backend, meminfo []byte) error {
	if be.Name() != "cpu" || os.Getenv(IgnoreMemoryEnv) == "1" || meminfo == nil {
		return nil
	}
	avail := memAvailable(meminfo)
	need := cfg.ParamCount() * 4
	if avail <= 0 || need <= avail {
		return nil
	}
	return fmt.Errorf("%s: the float32 weights need %.1f GB and %.1f GB of memory is available; set %s=1 to load anyway",
		cfg.Variant, float64(need)/1e9, float64(avail)/1e9, IgnoreMemoryEnv)
}

// memAvailable is /proc/meminfo's MemAvailable in bytes (0: not found).
func memAvailable(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// readMeminfo is the kernel's memory report, or nil where there is none.
func readMeminfo() []byte {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil
	}
	return b
}
