package nccl

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/kernels"
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestMain lets TestGPUNCCLComm launch this binary as its ranks.
func TestMain(m *testing.M) {
	if os.Getenv("DLLM_NCCL_TEST_RANK") == "1" {
		if err := rankMain(); err != nil {
			fmt.Println("rank error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// values is rank r's buffer: fresh random values, different per rank.
func values(r, n int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(r)+1, 5))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// needGPUs skips below two GPUs; with two and DLLM_REQUIRE_GPU=1 a missing
// NCCL fails.
func needGPUs(t *testing.T) *Lib {
	t.Helper()
	n, err := cu.DeviceCount()
	if err != nil || n < 2 {
		t.Skipf("needs 2 GPUs (found %d: %v)", n, err)
	}
	lib, err := Load()
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_GPU") == "1" {
			t.Fatalf("%d GPUs but no NCCL (set %s to libnccl.so.2): %v", n, LibEnv, err)
		}
		t.Skip(err)
	}
	return lib
}

// TestGPUNCCLAllReduce drives the binding on two GPUs from one process (a
// context thread per GPU): unique id, ncclCommInitRank on both at once,
// an all-reduce against a float64 sum, a broadcast, two all-reduces in one
// group, ncclCommDestroy, and the error strings.
func TestGPUNCCLAllReduce(t *testing.T) {
	lib := needGPUs(t)
	require.NotEmpty(t, lib.ErrorString(1))
	id, err := lib.GetUniqueID()
	require.NoError(t, err)
	const n = 1 << 16
	var want [n]float64
	for r := range 2 {
		for i, v := range values(r, n) {
			want[i] += float64(v)
		}
	}
	got := make([][]float32, 2)
	bcast := make([][]float32, 2)
	grouped := make([][]float32, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, err := cu.NewContext(r)
			if err != nil {
				errs[r] = err
				return
			}
			defer ctx.Close()
			errs[r] = ctx.Do(func(th *cu.Thread) error {
				comm, err := lib.CommInitRank(2, id, r)
				if err != nil {
					return err
				}
				defer lib.CommDestroy(comm)
				up := func(v []float32) (cu.DevicePtr, error) {
					p, err := th.MemAlloc(4 * len(v))
					if err != nil {
						return 0, err
					}
					return p, th.CopyHtoD(p, unsafe.Pointer(&v[0]), 4*len(v))
				}
				down := func(p cu.DevicePtr, k int) ([]float32, error) {
					if err := th.Synchronize(); err != nil {
						return nil, err
					}
					v := make([]float32, k)
					return v, th.CopyDtoH(unsafe.Pointer(&v[0]), p, 4*k)
				}
				p, err := up(values(r, n))
				if err != nil {
					return err
				}
				defer th.MemFree(p)
				if err := lib.AllReduceSum(p, n, comm, th.Stream()); err != nil {
					return err
				}
				if got[r], err = down(p, n); err != nil {
					return err
				}
				q, err := up(values(10+r, 256))
				if err != nil {
					return err
				}
				defer th.MemFree(q)
				if err := lib.Broadcast(q, 256, 1, comm, th.Stream()); err != nil {
					return err
				}
				if bcast[r], err = down(q, 256); err != nil {
					return err
				}
				a, err := up(values(r, 100))
				if err != nil {
					return err
				}
				defer th.MemFree(a)
				b, err := up(values(r, 300))
				if err != nil {
					return err
				}
				defer th.MemFree(b)
				if err := lib.GroupStart(); err != nil {
					return err
				}
				if err := lib.AllReduceSum(a, 100, comm, th.Stream()); err != nil {
					return err
				}
				if err := lib.AllReduceSum(b, 300, comm, th.Stream()); err != nil {
					return err
				}
				if err := lib.GroupEnd(); err != nil {
					return err
				}
				grouped[r], err = down(b, 300)
				return err
			})
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	for r := range 2 {
		for i := range n {
			require.InDelta(t, want[i], float64(got[r][i]), 1e-5*(1+math.Abs(want[i])), "rank %d [%d]", r, i)
		}
		require.Equal(t, values(11, 256), bcast[r], "rank %d broadcast", r)
		for i, v := range grouped[r] {
			w := float64(values(0, 300)[i]) + float64(values(1, 300)[i])
			require.InDelta(t, w, float64(v), 1e-5*(1+math.Abs(w)))
		}
	}
}

// rankMain is one rank of TestGPUNCCLComm: its own GPU, the NCCL Comm over
// MPI, and dist's Reducer averaging CUDA gradients against a float64 mean.
func rankMain() error {
	m, err := dist.NewMPI()
	if err != nil {
		return err
	}
	if err := kernels.UseDevice(m.Rank()); err != nil {
		return err
	}
	be, err := tensor.Open("cuda")
	if err != nil {
		return err
	}
	c, err := New(m, be)
	if err != nil {
		return err
	}
	shapes := [][]int{{300, 7}, {5}, {1024}}
	var params []*nn.Param
	for i, s := range shapes {
		p := nn.NewParam(be, fmt.Sprint("p", i), s...)
		g := tensor.FromF32(values(10*i+c.Rank(), tensor.Numel(s)), s...)
		p.Grad = be.FromHost(g)
		params = append(params, p)
	}
	loss := be.FromHost(tensor.FromF32([]float32{float32(1 + c.Rank())}, 1))
	red := dist.NewReducer(c, params, 4*2000, 1) // two buckets
	if err := red.Average(loss); err != nil {
		return err
	}
	if l := loss.ToCPU().F32()[0]; math.Abs(float64(l)-float64(1+c.Size())/2) > 1e-6 {
		return fmt.Errorf("rank %d: mean loss %g", c.Rank(), l)
	}
	for i, p := range params {
		got := p.Grad.ToCPU().F32()
		for j, v := range got {
			var w float64
			for r := range c.Size() {
				w += float64(values(10*i+r, len(got))[j]) / float64(c.Size())
			}
			if math.Abs(float64(v)-w) > 1e-5*(1+math.Abs(w)) {
				return fmt.Errorf("rank %d: %s[%d] = %g, want %g", c.Rank(), p.Name, j, v, w)
			}
		}
	}
	if err := dist.BroadcastParams(c, params); err != nil {
		return err
	}
	if c.Rank() == 0 {
		fmt.Printf("ok %d ranks over NCCL\n", c.Size())
	}
	return c.Close()
}

// TestGPUNCCLComm launches 2 ranks under mpirun, each on its own GPU, and
// averages CUDA gradients with the NCCL Comm. Skips below 2 GPUs or
// without mpirun.
func TestGPUNCCLComm(t *testing.T) {
	needGPUs(t)
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("no mpirun: install Open MPI to run NCCL under MPI")
	}
	args := []string{"-q", "--oversubscribe", "-np", "2", "-x", "DLLM_NCCL_TEST_RANK=1"}
	if os.Geteuid() == 0 {
		args = append([]string{"--allow-run-as-root"}, args...)
	}
	cmd := exec.Command("mpirun", append(args, os.Args[0])...)
	cmd.Env = append(os.Environ(), "DLLM_NCCL_TEST_RANK=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), out.String())
	require.True(t, strings.Contains(out.String(), "ok 2 ranks over NCCL"), out.String())
}
