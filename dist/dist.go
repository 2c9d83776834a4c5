package dist

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"github.com/dllmgo/dllm/dist/mpi"
	"github.com/dllmgo/dllm/tensor"
)

// Comm is a group of ranks training one model together.
type Comm interface {
	// Name says what carries the collectives: "single", "mpi", "nccl".
	Name() string
	// Rank is this process's index, 0 … Size-1; rank 0 writes the outputs.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduceSum replaces t (F32) on every rank with the elementwise sum
	// of every rank's t.
	AllReduceSum(t *tensor.Tensor) error
	// Broadcast copies root's t (F32) into every rank's t.
	Broadcast(t *tensor.Tensor, root int) error
	// BroadcastBytes copies root's b into every rank's b (same length).
	BroadcastBytes(b []byte, root int) error
	// Barrier returns when every rank has called it.
	Barrier() error
	// Abort ends every rank of the job with exit status code. A Comm of
	// one process exits; an MPI one does not return.
	Abort(code int)
	// Close releases the communicator (MPI_Finalize for MPI).
	Close() error
}

// Single is the Comm of a run of one process: rank 0 of 1.
type Single struct{}

func (Single) Name() string                        { return "single" }
func (Single) Rank() int                           { return 0 }
func (Single) Size() int                           { return 1 }
func (Single) AllReduceSum(*tensor.Tensor) error   { return nil }
func (Single) Broadcast(*tensor.Tensor, int) error { return nil }
func (Single) BroadcastBytes([]byte, int) error    { return nil }
func (Single) Barrier() error                      { return nil }
func (Single) Abort(code int)                      { os.Exit(code) }
func (Single) Close() error                        { return nil }
func (Single) String() string                      { return "single process" }

var _ Comm = Single{}

// launcherEnv are the variables a launcher sets in each process it starts:
// Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), MPICH's Hydra and Slurm's PMI-2
// (PMI_SIZE), PMIx launchers such as srun --mpi=pmix (PMIX_RANK).
var launcherEnv = []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}

// Launched reports whether an MPI launcher started this process.
func Launched() bool {
	for _, v := range launcherEnv {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// LocalRank is this process's index among the ranks of its machine, read
// from the launcher's environment (OMPI_COMM_WORLD_LOCAL_RANK,
// MPI_LOCALRANKID, SLURM_LOCALID); ok is false when none says.
func LocalRank() (rank int, ok bool) {
	for _, v := range []string{"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"} {
		if s := os.Getenv(v); s != "" {
			if r, err := strconv.Atoi(s); err == nil && r >= 0 {
				return r, true
			}
		}
	}
	return 0, false
}

// MPI is the Comm of a run an MPI launcher started, reducing CPU tensors
// with MPI_Allreduce.
type MPI struct {
	Lib        *mpi.Lib
	rank, size int
}

// NewMPI loads the MPI library, initialises it and reads rank and size.
func NewMPI() (*MPI, error) {
	lib, err := mpi.Load()
	if err != nil {
		return nil, err
	}
	if err := lib.Init(); err != nil {
		return nil, err
	}
	r, err := lib.Rank()
	if err != nil {
		return nil, err
	}
	n, err := lib.Size()
	if err != nil {
		return nil, err
	}
	return &MPI{Lib: lib, rank: r, size: n}, nil
}

func (c *MPI) Name() string { return "mpi" }
func (c *MPI) Rank() int    { return c.rank }
func (c *MPI) Size() int    { return c.size }

func (c *MPI) String() string {
	procs := "processes"
	if c.size == 1 {
		procs = "process"
	}
	return fmt.Sprintf("%d %s over MPI (%s, %s)", c.size, procs, c.Lib.Flavour, c.Lib.Path)
}

// hostF32 returns the storage of a CPU F32 tensor, or an error naming the
// tensor's device.
func hostF32(op string, t *tensor.Tensor) ([]float32, error) {
	if t.Backend().Name() != "cpu" || t.DType() != tensor.F32 {
		return nil, fmt.Errorf("dist: MPI %s of %v: MPI reduces CPU float32 tensors (use NCCL for --device cuda)", op, t)
	}
	return t.F32(), nil
}

func (c *MPI) AllReduceSum(t *tensor.Tensor) error {
	if c.size == 1 {
		return nil
	}
	s, err := hostF32("all-reduce", t)
	if err != nil {
		return err
	}
	return c.Lib.AllReduceSum(s)
}

func (c *MPI) Broadcast(t *tensor.Tensor, root int) error {
	if c.size == 1 {
		return nil
	}
	s, err := hostF32("broadcast", t)
	if err != nil {
		return err
	}
	return c.Lib.BcastF32(s, root)
}

func (c *MPI) BroadcastBytes(b []byte, root int) error {
	if c.size == 1 {
		return nil
	}
	return c.Lib.BcastBytes(b, root)
}

func (c *MPI) Barrier() error { return c.Lib.Barrier() }

func (c *MPI) Abort(code int) {
	c.Lib.Abort(code)
	os.Exit(code) // MPI_Abort returned: end this rank at least
}

func (c *MPI) Close() error { return c.Lib.Finalize() }

// BroadcastUint64 gives every rank root's v.
func BroadcastUint64(c Comm, v uint64, root int) (uint64, error) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if err := c.BroadcastBytes(b[:], root); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
