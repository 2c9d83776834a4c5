package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dllmgo/dllm/mdlm"
)

// errQueueFull is returned by submit when the queue has no room.
var errQueueFull = errors.New("serve: queue full")

// errStopped is the error of jobs left when the server closes.
var errStopped = errors.New("serve: server shutting down")

// job is one request's work: its sequences (one per choice), or a function
// that needs the model to itself (scoring), run between two steps.
type job struct {
	ctx  context.Context
	seqs []*mdlm.Sequence
	run  func() error

	// keepFrames keeps every frame a sequence sends (denoising streams);
	// otherwise only each choice's latest is kept.
	keepFrames bool
	mu         sync.Mutex
	frames     []choiceFrame
	wake       chan struct{} // a frame arrived (capacity 1)

	done chan struct{} // closed when the job has finished
	err  error
	once sync.Once
}

// choiceFrame is a frame of one choice of a job.
type choiceFrame struct {
	choice int
	frame  mdlm.Frame
}

func newJob(ctx context.Context) *job {
	return &job{ctx: ctx, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// trace returns the TraceFunc of choice i.
func (j *job) trace(i int) mdlm.TraceFunc {
	return func(f mdlm.Frame) {
		j.mu.Lock()
		if !j.keepFrames {
			for k := range j.frames {
				if j.frames[k].choice == i {
					j.frames[k].frame = f
					j.mu.Unlock()
					j.signal()
					return
				}
			}
		}
		j.frames = append(j.frames, choiceFrame{i, f})
		j.mu.Unlock()
		j.signal()
	}
}

func (j *job) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// takeFrames returns the frames that arrived since the last call.
func (j *job) takeFrames() []choiceFrame {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.frames
	j.frames = nil
	return f
}

func (j *job) finish(err error) {
	j.once.Do(func() {
		j.err = err
		close(j.done)
	})
}

// rows is the number of batch rows the job's step needs.
func (j *job) rows() int {
	n := 0
	for _, s := range j.seqs {
		if !s.Done() {
			n += s.Passes()
		}
	}
	return n
}

// scheduler runs every sequence of the admitted jobs one denoising step per
// model call, admitting queued jobs at step boundaries while the batch has
// room.
type scheduler struct {
	d       mdlm.Denoiser
	queue   chan *job
	maxRows int
	m       *metrics
	quit    chan struct{}
	stopped chan struct{}
}

func newScheduler(d mdlm.Denoiser, queue, maxRows int, m *metrics) *scheduler {
	s := &scheduler{d: d, queue: make(chan *job, queue), maxRows: maxRows, m: m,
		quit: make(chan struct{}), stopped: make(chan struct{})}
	go s.loop()
	return s
}

// submit queues a job, or fails at once when the queue is full.
func (s *scheduler) submit(j *job) error {
	select {
	case <-s.quit:
		return errStopped
	default:
	}
	select {
	case s.queue <- j:
		s.m.queued.Add(1)
		return nil
	default:
		return errQueueFull
	}
}

// close stops the loop; running and queued jobs fail.
func (s *scheduler) close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
}

func (s *scheduler) loop() {
	defer close(s.stopped)
	var active []*job
	var held *job // taken from the queue, waiting for room in the batch
	rows := 0
	defer func() {
		for _, j := range active {
			j.finish(errStopped)
		}
		if held != nil {
			j := held
			j.finish(errStopped)
		}
		for {
			select {
			case j := <-s.queue:
				j.finish(errStopped)
			default:
				return
			}
		}
	}()
	for {
		// Admit jobs while there is room; wait for one when idle.
		for {
			j := held
			held = nil
			if j == nil {
				if len(active) == 0 {
					select {
					case j = <-s.queue:
					case <-s.quit:
						return
					}
				} else {
					select {
					case j = <-s.queue:
					default:
					}
				}
				if j == nil {
					break
				}
				s.m.queued.Add(-1)
			}
			if j.ctx.Err() != nil {
				j.finish(j.ctx.Err())
				continue
			}
			if j.run != nil {
				// Scoring needs the model alone: it runs now, between steps.
				start := time.Now()
				j.finish(j.run())
				s.m.busy.Add(int64(time.Since(start)))
				continue
			}
			if need := j.rows(); rows > 0 && rows+need > s.maxRows {
				held = j
				break
			}
			active = append(active, j)
			rows += j.rows()
		}
		select {
		case <-s.quit:
			return
		default:
		}
		// Leave out what was cancelled; step the rest.
		var seqs []*mdlm.Sequence
		keep := active[:0]
		for _, j := range active {
			if err := j.ctx.Err(); err != nil {
				j.finish(err)
				continue
			}
			keep = append(keep, j)
			for _, q := range j.seqs {
				if !q.Done() {
					seqs = append(seqs, q)
				}
			}
		}
		active = keep
		s.m.running.Store(int64(len(seqs)))
		start := time.Now()
		n, err := mdlm.StepSequences(s.d, seqs)
		if n > 0 {
			s.m.passes.Add(1)
			s.m.rows.Add(int64(n))
			s.m.busy.Add(int64(time.Since(start)))
		}
		keep = active[:0]
		rows = 0
		for _, j := range active {
			if err != nil {
				j.finish(err)
				continue
			}
			if j.rows() == 0 {
				j.finish(nil)
				continue
			}
			keep = append(keep, j)
			rows += j.rows()
		}
		clear(active[len(keep):])
		active = keep
		s.m.running.Store(int64(rows))
	}
}
