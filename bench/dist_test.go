package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/dist/mpi"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// The data-parallel benchmarks launch this test binary under mpirun: a rank
// (DLLM_BENCH_RANK=allreduce or step) times a fixed number of iterations,
// decided before the launch so that every rank makes the same collective
// calls, and rank 0 prints one "result" line for the benchmark to report.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DLLM_BENCH_RANK"); mode != "" {
		if err := rankMain(mode); err != nil {
			fmt.Fprintln(os.Stderr, "bench rank:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func rankMain(mode string) error {
	iters, _ := strconv.Atoi(os.Getenv("DLLM_BENCH_ITERS"))
	iters = max(iters, 1)
	c, err := dist.NewMPI()
	if err != nil {
		return err
	}
	defer c.Close()
	switch mode {
	case "allreduce":
		// The gradient buffer of the CPU reference model (4,464,128 floats).
		w, err := NewWorkload(ReferenceConfig(), tensor.CPU(), 1, 8, 1)
		if err != nil {
			return err
		}
		n := 0
		for _, p := range w.Model.Params() {
			n += p.Value.Numel()
		}
		buf := tensor.CPU().New(tensor.F32, n)
		for i := range buf.F32() {
			buf.F32()[i] = float32(i%7) * 0.25
		}
		for range 2 { // warm-up: shared-memory segments, first touch
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
		}
		c.Barrier()
		t0 := time.Now()
		for range iters {
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
		}
		secs := time.Since(t0).Seconds() / float64(iters)
		if c.Rank() == 0 {
			fmt.Printf("result bytes=%d seconds=%g\n", 4*n, secs)
		}
	case "step":
		// The CPU reference step (batch 8 x 256 per rank, so the global
		// batch grows with the ranks), its gradients averaged in buckets.
		w, err := NewWorkload(ReferenceConfig(), tensor.CPU(), ReferenceBatch, ReferenceSeq, 1+uint64(c.Rank()))
		if err != nil {
			return err
		}
		r := dist.NewReducer(c, w.params, 0, 0)
		var reduce time.Duration
		w.Reduce = func([]*nn.Param) {
			t0 := time.Now()
			if err := r.Average(nil); err != nil {
				panic(err)
			}
			reduce += time.Since(t0)
		}
		w.TrainStep(1e-4) // warm-up
		reduce = 0
		c.Barrier()
		t0 := time.Now()
		for range iters {
			w.TrainStep(1e-4)
		}
		secs := time.Since(t0).Seconds() / float64(iters)
		if c.Rank() == 0 {
			fmt.Printf("result seconds=%g reduce=%g buckets=%d\n", secs, reduce.Seconds()/float64(iters), r.Buckets())
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// launch runs np ranks of mode for iters iterations and returns rank 0's
// result fields.
func launch(b *testing.B, np int, mode string, iters int) map[string]float64 {
	b.Helper()
	args := []string{"-q", "--oversubscribe", "-np", strconv.Itoa(np), "-x", "DLLM_BENCH_RANK", "-x", "DLLM_BENCH_ITERS"}
	if os.Geteuid() == 0 {
		args = append([]string{"--allow-run-as-root"}, args...)
	}
	cmd := exec.Command("mpirun", append(args, os.Args[0])...)
	cmd.Env = append(os.Environ(), "DLLM_BENCH_RANK="+mode, "DLLM_BENCH_ITERS="+strconv.Itoa(iters))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("mpirun -np %d %s: %v\n%s", np, mode, err, errb.String())
	}
	res := map[string]float64{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "result" {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			res[k], _ = strconv.ParseFloat(v, 64)
		}
	}
	if len(res) == 0 {
		b.Fatalf("mpirun -np %d %s printed no result:\n%s%s", np, mode, out.String(), errb.String())
	}
	return res
}

func needMPIBench(b *testing.B) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		b.Skip("no mpirun: install openmpi-bin libopenmpi3")
	}
	if _, err := mpi.Load(); err != nil {
		b.Skip(err)
	}
}

// BenchmarkMPIAllReduce is the bandwidth of MPI_Allreduce (sum, float32,
// in place) between 2 ranks of this machine over the CPU reference model's
// gradient buffer (17.9 MB). algbw-GB/s is bytes/time; busbw-GB/s is
// algbw·2(n−1)/n, the traffic a ring moves per rank (NCCL's convention).
func BenchmarkMPIAllReduce(b *testing.B) {
	needMPIBench(b)
	const np = 2
	res := launch(b, np, "allreduce", max(b.N, 5)*4)
	alg := res["bytes"] / res["seconds"] / 1e9
	b.ReportMetric(alg, "algbw-GB/s")
	b.ReportMetric(alg*2*(np-1)/np, "busbw-GB/s")
	b.ReportMetric(1e3*res["seconds"], "ms/allreduce")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMPIDataParallelStep times the CPU reference training step with 1
// rank and with 2 ranks (each on its own batch of 8 x 256, gradients
// averaged over MPI in buckets), launched alternately so that the load of a
// shared machine falls on both alike. overhead-% is the 2-rank step time
// over the 1-rank one, minus 1: on a machine whose cores the ranks share it
// includes the ranks competing for them, not only the reduction
// (reduce-ms/step, measured on rank 0).
func BenchmarkMPIDataParallelStep(b *testing.B) {
	needMPIBench(b)
	const iters = 3
	var one, two, reduce float64
	var buckets float64
	for range b.N {
		r1 := launch(b, 1, "step", iters)
		r2 := launch(b, 2, "step", iters)
		one += r1["seconds"]
		two += r2["seconds"]
		reduce += r2["reduce"]
		buckets = r2["buckets"]
	}
	n := float64(b.N)
	b.ReportMetric(1e3*one/n, "ms/step-1rank")
	b.ReportMetric(1e3*two/n, "ms/step-2ranks")
	b.ReportMetric(1e3*reduce/n, "reduce-ms/step")
	b.ReportMetric(100*(two/one-1), "overhead-%")
	b.ReportMetric(buckets, "buckets")
	b.ReportMetric(0, "ns/op")
}
