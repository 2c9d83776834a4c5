// Package dist is data-parallel training across processes: N copies of the
// model, one per process ("rank"), each computing the gradient of its own
// share of every global batch, then averaging the gradients so that every
// copy takes the same optimizer step and the copies never drift apart.
//
// # Why it works
//
// The gradient of a mean is the mean of the gradients. A step of one process
// over a global batch of G micro-batches (gradient accumulation,
// --grad-accum G) sums G gradients each scaled by 1/G. N ranks that each
// take G/N of those micro-batches, scale each by 1/(G/N) and then average
// across ranks (sum, divide by N) compute the same number, up to the order
// of the float32 additions. The optimizer then sees the same gradient on
// every rank; AdamW is deterministic, so weights that start equal stay
// equal. Three things make the start equal and keep it so:
//
//   - the initial weights (and the seed) are broadcast from rank 0, so a
//     rank that initialised differently cannot go unnoticed;
//   - every rank walks the same global batch order and takes a disjoint
//     slice of each global batch (rank r takes micro-batches r·A … r·A+A−1
//     of the N·A of a step, A the per-rank accumulation), so no example is
//     seen twice and none is skipped;
//   - the noise of a micro-batch (diffusion times, masks) is drawn from a
//     stream named by (seed, step, micro-batch index within the global
//     batch), not from a stream each rank advances on its own, so it does
//     not depend on which rank computed the micro-batch. One rank with
//     accumulation N·A therefore draws exactly the noise that N ranks with
//     accumulation A draw (the equivalence the tests check).
//
// # The interface
//
// Comm is the small surface the trainer uses: Rank, Size, AllReduceSum and
// Broadcast of float32 tensors, BroadcastBytes (the seed, NCCL's unique id),
// Barrier and Abort. Three implementations:
//
//   - Single (Size 1): every call is a no-op; what a run without a launcher
//     uses.
//   - MPI: CPU tensors reduced by MPI_Allreduce (package dist/mpi dlopens
//     libmpi, Open MPI or MPICH).
//   - NCCL (package dist/nccl): CUDA tensors reduced by ncclAllReduce on
//     the backend's stream, the communicator's unique id broadcast over MPI,
//     which also launches the processes and carries everything else.
//
// # Buckets
//
// A model has hundreds of parameter tensors; one collective call per tensor
// would pay the latency of a collective hundreds of times per step. Reducer
// packs the gradients, in parameter order, into a few flat buffers of about
// BucketBytes each (allocated once), reduces each buffer in one call and
// copies the averaged values back. The step's loss rides in the last bucket
// (with the trainer's "stop now" flag: Ctrl-C reaches the ranks at
// different moments, and they must stop after the same step), so neither
// costs a call of its own.
//
// Overlap with the backward pass (starting to reduce the last layers'
// buckets while the first layers' gradients are still being computed, as
// PyTorch's DDP does) needs the tape to say when a parameter's gradient is
// final. nn.Tape's Backward runs the whole graph in one call and a
// parameter's gradient may receive contributions until the very end (tied
// embeddings are used first and last); with gradient accumulation only the
// last micro-batch's backward could overlap at all. So the reduction runs
// after the backward pass, bucket after bucket. On the CPU the ranks share
// the cores, so overlap would buy nothing there anyway; on GPUs it is the
// next step (a per-parameter ready hook in nn).
//
// # Failure
//
// A collective blocks until every rank joins it: a rank that dies or
// returns early would leave the others waiting forever. So a rank that
// fails does not return: the command prints one line and calls Abort
// (MPI_Abort), which makes the launcher kill every rank of the job. A rank
// killed from outside is noticed by the launcher (mpirun, srun), which ends
// the others the same way.
package dist
