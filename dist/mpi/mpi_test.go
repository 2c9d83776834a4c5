package mpi

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain lets TestMPICalls launch this binary as its ranks.
func TestMain(m *testing.M) {
	if os.Getenv("DLLM_MPI_TEST_RANK") == "1" {
		if err := rankMain(); err != nil {
			fmt.Println("rank error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// data is rank r's buffer: fresh random values, different on every rank.
func data(r, n int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(r)+1, 77))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// rankMain checks every call from inside one rank; rank 0 prints "ok".
func rankMain() error {
	l, err := Load()
	if err != nil {
		return err
	}
	if err := l.Init(); err != nil {
		return err
	}
	if !l.Initialized() {
		return fmt.Errorf("MPI_Initialized says no after Init")
	}
	rank, err := l.Rank()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	if want := os.Getenv("OMPI_COMM_WORLD_SIZE"); want != "" && want != fmt.Sprint(size) {
		return fmt.Errorf("size %d, launcher says %s", size, want)
	}
	const n = 1000
	buf := data(rank, n)
	if err := l.AllReduceSum(buf); err != nil {
		return err
	}
	for i := range n { // float64 reference sum
		var want float64
		for r := range size {
			want += float64(data(r, n)[i])
		}
		if math.Abs(float64(buf[i])-want) > 1e-5*(1+math.Abs(want)) {
			return fmt.Errorf("rank %d: all-reduce [%d] = %g, want %g", rank, i, buf[i], want)
		}
	}
	b := data(rank, 64)
	if err := l.BcastF32(b, 1); err != nil {
		return err
	}
	if fmt.Sprint(b) != fmt.Sprint(data(1, 64)) {
		return fmt.Errorf("rank %d: broadcast from rank 1 differs", rank)
	}
	id := []byte(fmt.Sprintf("rank-%03d-bytes", rank))
	if err := l.BcastBytes(id, 0); err != nil {
		return err
	}
	if string(id) != "rank-000-bytes" {
		return fmt.Errorf("rank %d: bytes broadcast gave %q", rank, id)
	}
	if err := l.Barrier(); err != nil {
		return err
	}
	if rank == 0 {
		fmt.Printf("ok %d ranks %s\n", size, l.Flavour)
	}
	return l.Finalize()
}

// TestMPICalls runs 3 ranks under mpirun: rank and size, the float32
// all-reduce against a float64 sum, broadcasts of floats and bytes, the
// barrier. Skips without MPI, fails without it when DLLM_REQUIRE_MPI=1.
func TestMPICalls(t *testing.T) {
	_, errRun := exec.LookPath("mpirun")
	_, errLib := Load()
	if errRun != nil || errLib != nil {
		msg := fmt.Sprintf("no MPI (mpirun: %v; library: %v)", errRun, errLib)
		if os.Getenv("DLLM_REQUIRE_MPI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	args := []string{"-q", "--oversubscribe", "-np", "3", "-x", "DLLM_MPI_TEST_RANK=1"}
	if os.Geteuid() == 0 {
		args = append([]string{"--allow-run-as-root"}, args...)
	}
	cmd := exec.Command("mpirun", append(args, os.Args[0])...)
	cmd.Env = append(os.Environ(), "DLLM_MPI_TEST_RANK=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, err, out.String())
	require.True(t, strings.Contains(out.String(), "ok 3 ranks"), out.String())
}

// TestLoadNamesAttempts: a library that is not there is an error listing it.
func TestLoadNamesAttempts(t *testing.T) {
	libNamesBefore := libNames
	defer func() { libNames = libNamesBefore }()
	libNames = []string{"libdllm-no-such-mpi.so"}
	_, err := load()
	require.Error(t, err)
	require.Contains(t, err.Error(), "libdllm-no-such-mpi.so")
}
