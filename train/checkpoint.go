package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/optim"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// A checkpoint is a model directory (loadable by `dllm generate` and by
// transformers) plus the trainer's state:
//
//	OUT/checkpoints/step-000200/
//	    config.json  model.safetensors  tokenizer.json  tokenizer_config.json
//	    trainer_state.json       step, epoch, batch, RNG, loss history
//	    optimizer.safetensors    AdamW moments, named exp_avg.<param>/exp_avg_sq.<param>
const (
	checkpointsDir = "checkpoints"
	stateFile      = "trainer_state.json"
	optimizerFile  = "optimizer.safetensors"
	// bestFile holds the weights of the best held-out evaluation
	// (Options.KeepBest), named as the model's parameters.
	bestFile = "best.safetensors"
)

type stateJSON struct {
	State
	OptimizerStep int    `json:"optimizer_step"`
	TotalSteps    int    `json:"total_steps"`
	Seed          uint64 `json:"seed"`
	// ElapsedSeconds is the training time spent so far, over every session
	// of the run: a time budget counts it.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Options and Run describe the run (runspec.go); absent in checkpoints
	// written before they were recorded.
	Options *RecordedOptions `json:"options,omitempty"`
	Run     *RunSpec         `json:"run,omitempty"`
}

// parseState reads trainer_state.json and checks that its numbers can be
// those of a run.
func parseState(js []byte) (stateJSON, error) {
	var st stateJSON
	if err := json.Unmarshal(js, &st); err != nil {
		return st, err
	}
	switch {
	case st.Step < 0 || st.Epoch < 0 || st.Batch < 0 || st.Tokens < 0 || st.OptimizerStep < 0:
		return st, fmt.Errorf("negative counter (step %d, epoch %d, batch %d, tokens %d, optimizer_step %d)",
			st.Step, st.Epoch, st.Batch, st.Tokens, st.OptimizerStep)
	case st.TotalSteps < st.Step:
		return st, fmt.Errorf("step %d is past total_steps %d", st.Step, st.TotalSteps)
	case !(st.ElapsedSeconds >= 0) || math.IsInf(st.ElapsedSeconds, 0):
		return st, fmt.Errorf("elapsed_seconds %v is not a time", st.ElapsedSeconds)
	case len(st.RNG) == 0:
		return st, errors.New("no RNG state")
	}
	if o := st.Options; o != nil {
		if o.GradAccum < 1 || o.Steps < 0 || o.Epochs < 0 || !(o.LR >= 0) {
			return st, fmt.Errorf("options: grad_accum %d, steps %d, epochs %d, lr %v are not a run's", o.GradAccum, o.Steps, o.Epochs, o.LR)
		}
		if _, err := time.ParseDuration(o.TimeBudget); err != nil {
			return st, fmt.Errorf("options: time_budget: %v", err)
		}
	}
	return st, nil
}

func readState(dir string) (stateJSON, error) {
	path := filepath.Join(dir, stateFile)
	js, err := os.ReadFile(path)
	if err != nil {
		return stateJSON{}, err
	}
	st, err := parseState(js)
	if err != nil {
		return st, fmt.Errorf("%s: %v", path, err)
	}
	return st, nil
}

// checkpoint writes the current state into a new checkpoint folder, built
// under a temporary name and renamed into place, then prunes old ones. A
// checkpoint that cannot be written (a full disk, a read-only folder)
// leaves no temporary folder and the previous checkpoints as they were.
func (t *Trainer) checkpoint() error {
	if !t.writes() {
		return nil
	}
	root := filepath.Join(t.opts.OutDir, checkpointsDir)
	final := filepath.Join(root, stepName(t.state.Step))
	if err := t.writeCheckpoint(root, final+".tmp"); err != nil {
		os.RemoveAll(final + ".tmp")
		return fmt.Errorf("cannot write the checkpoint %s (the previous checkpoints are kept): %w", final, err)
	}
	if err := replaceDir(final+".tmp", final); err != nil {
		os.RemoveAll(final + ".tmp")
		return fmt.Errorf("cannot write the checkpoint %s (the previous checkpoints are kept): %w", final, err)
	}
	t.savedAt = t.state.Step
	return t.prune(root)
}

func stepName(step int) string { return fmt.Sprintf("step-%06d", step) }

// writeCheckpoint fills the folder tmp with the model, the trainer's state
// and the optimizer's moments.
func (t *Trainer) writeCheckpoint(root, tmp string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := t.hooks.SaveModel(tmp); err != nil {
		return err
	}
	rngState, err := t.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	t.state.RNG = rngState
	rec := recordOptions(t.opts)
	st := stateJSON{State: t.state, OptimizerStep: t.opt.Steps(), TotalSteps: t.total, Seed: t.opts.Seed,
		ElapsedSeconds: t.spent().Seconds(), Options: &rec, Run: t.opts.Run}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, stateFile), js, 0o644); err != nil {
		return err
	}
	if t.opts.KeepBest && t.bestW != nil {
		var ts []safetensors.Tensor
		for i, p := range t.params {
			ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape(), t.bestW[i]))
		}
		if err := safetensors.Write(filepath.Join(tmp, bestFile), ts, nil); err != nil {
			return err
		}
	}
	moments := t.opt.State()
	var ts []safetensors.Tensor
	for _, p := range t.params {
		shape := p.Value.Shape()
		ts = append(ts, safetensors.F32Tensor("exp_avg."+p.Name, shape, moments.M[p.Name]),
			safetensors.F32Tensor("exp_avg_sq."+p.Name, shape, moments.V[p.Name]))
	}
	return safetensors.Write(filepath.Join(tmp, optimizerFile), ts, nil)
}

func replaceDir(tmp, final string) error {
	if err := removeDir(final); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

// removeDir deletes a checkpoint folder so that a process killed halfway
// never leaves a partial folder under a checkpoint's name (RemoveAll
// deletes file by file: a kill could leave trainer_state.json without the
// model's files, which a resume would take for a checkpoint). The folder is
// first renamed, atomically, to a ".tmp" name that tidy clears on the next
// run, then removed.
func removeDir(dir string) error {
	gone := dir + ".old.tmp"
	if err := os.RemoveAll(gone); err != nil {
		return err
	}
	if err := os.Rename(dir, gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(gone)
}

// prune keeps the newest KeepLast checkpoints.
func (t *Trainer) prune(root string) error {
	if t.opts.KeepLast <= 0 {
		return nil
	}
	all, err := listCheckpoints(root)
	if err != nil {
		return err
	}
	for len(all) > t.opts.KeepLast {
		if err := removeDir(all[0]); err != nil {
			return err
		}
		all = all[1:]
	}
	return nil
}

// listCheckpoints returns the complete checkpoint folders under root, oldest
// first.
func listCheckpoints(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, ok := checkpointStep(e); ok {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// checkpointStep reads the step of a complete checkpoint folder's name.
func checkpointStep(e os.DirEntry) (int, bool) {
	var step int
	name := e.Name()
	if !e.IsDir() || !strings.HasPrefix(name, "step-") || strings.HasSuffix(name, ".tmp") {
		return 0, false
	}
	if _, err := fmt.Sscanf(name, "step-%d", &step); err != nil {
		return 0, false
	}
	return step, true
}

// tidy removes what an interrupted run can leave in its output folder: the
// temporary folders of checkpoints being written (step-N.tmp), the
// temporary files of atomic writes (.NAME.tmp*) and, when the run resumes
// at step > 0, the checkpoints written after that step, which belong to a
// continuation that is being replaced.
func tidy(out string, step int) error {
	root := filepath.Join(out, checkpointsDir)
	for _, dir := range []string{out, root} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			s, complete := checkpointStep(e)
			stale := (dir == root && strings.HasPrefix(name, "step-") && strings.HasSuffix(name, ".tmp")) ||
				(strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")) ||
				(dir == root && complete && step > 0 && s > step)
			if stale {
				if err := removeDir(filepath.Join(dir, name)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// FindCheckpoint resolves --resume: a checkpoint folder itself, or a run's
// output folder, whose newest checkpoint is taken.
func FindCheckpoint(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return dir, nil
	}
	all, err := listCheckpoints(filepath.Join(dir, checkpointsDir))
	if err != nil || len(all) == 0 {
		return "", fmt.Errorf("%s: no checkpoint (no %s and no %s/step-*)", dir, stateFile, checkpointsDir)
	}
	return all[len(all)-1], nil
}

// RunDir is the output folder of the run a checkpoint folder belongs to
// (OUT for OUT/checkpoints/step-N), or "" when it is not inside one.
func RunDir(checkpoint string) string {
	parent := filepath.Dir(filepath.Clean(checkpoint))
	if filepath.Base(parent) == checkpointsDir {
		return filepath.Dir(parent)
	}
	return ""
}

// Resume loads weights, optimizer moments and trainer state from a
// checkpoint folder, so that Run continues where that run stopped. The
// options that shape the run must equal those the checkpoint recorded
// (MismatchError otherwise); see RecordedOptions.
func (t *Trainer) Resume(dir string) error { return t.resume(dir, true) }

// ResumeState is Resume for a model that was already loaded from dir's
// weights: everything but the weights.
func (t *Trainer) ResumeState(dir string) error { return t.resume(dir, false) }

func (t *Trainer) resume(dir string, weights bool) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	if err := t.adopt(st); err != nil {
		return err
	}
	if weights {
		if err := loadWeights(t.params, dir); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	f, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	saved := optim.State{Step: st.OptimizerStep, M: map[string][]float32{}, V: map[string][]float32{}}
	for _, p := range t.params {
		if saved.M[p.Name], _, err = f.F32("exp_avg." + p.Name); err != nil {
			return err
		}
		if saved.V[p.Name], _, err = f.F32("exp_avg_sq." + p.Name); err != nil {
			return err
		}
	}
	if err := t.opt.SetState(saved); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := t.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("%s: RNG state: %w", dir, err)
	}
	t.bestW = nil
	if t.opts.KeepBest && st.Best != nil {
		if t.bestW, err = readBest(t.params, dir); err != nil {
			return fmt.Errorf("%s: the best evaluation's weights: %w", dir, err)
		}
	}
	t.state = st.State
	t.savedAt, t.resumedAt = st.Step, st.Step
	t.spentBefore = time.Duration(st.ElapsedSeconds * float64(time.Second))
	t.epochB = t.train(t.state.Epoch)
	return nil
}

// adopt checks the recorded options against the trainer's and takes the
// run's length from the checkpoint: a time-budgeted run continues with the
// total it had fitted, a step-counted one may only grow (the schedule is
// then the one of the longer run, as if it had been asked for from the
// start).
func (t *Trainer) adopt(st stateJSON) error {
	if st.Options != nil {
		if err := compareOptions(*st.Options, recordOptions(t.opts)); err != nil {
			return err
		}
	}
	budgeted := st.Options != nil && parseDuration(st.Options.TimeBudget) > 0 && t.opts.TimeBudget > 0
	switch {
	case budgeted:
		if err := t.setTotal(st.TotalSteps); err != nil {
			return err
		}
		t.fitted = true
	case t.total < st.TotalSteps:
		return &MismatchError{Option: "total_steps", Was: fmt.Sprint(st.TotalSteps), Now: fmt.Sprint(t.total)}
	}
	return nil
}

// loadWeights copies every parameter from the weights of a checkpoint
// folder, which the model's own Save wrote under the parameters' names.
func loadWeights(params []*nn.Param, dir string) error {
	src, err := safetensors.OpenModel(dir)
	if err != nil {
		return err
	}
	be := params[0].Value.Backend()
	for _, p := range params {
		v, shape, err := src.F32(p.Name)
		if err != nil {
			return err
		}
		if !tensor.SameShape(shape, p.Value.Shape()) {
			return fmt.Errorf("tensor %s has shape %v, the model wants %v", p.Name, shape, p.Value.Shape())
		}
		be.Copy(p.Value, be.FromHost(tensor.FromF32(v, shape...)))
	}
	return nil
}

// readBest reads the best evaluation's weights of a checkpoint folder.
func readBest(params []*nn.Param, dir string) ([][]float32, error) {
	f, err := safetensors.Open(filepath.Join(dir, bestFile))
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(params))
	for i, p := range params {
		v, shape, err := f.F32(p.Name)
		if err != nil {
			return nil, err
		}
		if !tensor.SameShape(shape, p.Value.Shape()) {
			return nil, fmt.Errorf("tensor %s has shape %v, the model wants %v", p.Name, shape, p.Value.Shape())
		}
		out[i] = v
	}
	return out, nil
}
