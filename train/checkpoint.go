package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
)

type stateJSON struct {
	State
	OptimizerStep int    `json:"optimizer_step"`
	TotalSteps    int    `json:"total_steps"`
	Seed          uint64 `json:"seed"`
}

// checkpoint writes the current state into a new checkpoint folder, built
// under a temporary name and renamed into place, then prunes old ones.
func (t *Trainer) checkpoint() error {
	if !t.writes() {
		return nil
	}
	root := filepath.Join(t.opts.OutDir, checkpointsDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	final := filepath.Join(root, fmt.Sprintf("step-%06d", t.state.Step))
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	if err := t.hooks.SaveModel(tmp); err != nil {
		return err
	}
	rngState, err := t.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	t.state.RNG = rngState
	st := stateJSON{State: t.state, OptimizerStep: t.opt.Steps(), TotalSteps: t.total, Seed: t.opts.Seed}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, stateFile), js, 0o644); err != nil {
		return err
	}
	moments := t.opt.State()
	var ts []safetensors.Tensor
	for _, p := range t.params {
		shape := p.Value.Shape()
		ts = append(ts, safetensors.F32Tensor("exp_avg."+p.Name, shape, moments.M[p.Name]),
			safetensors.F32Tensor("exp_avg_sq."+p.Name, shape, moments.V[p.Name]))
	}
	if err := safetensors.Write(filepath.Join(tmp, optimizerFile), ts, nil); err != nil {
		return err
	}
	if err := replaceDir(tmp, final); err != nil {
		return err
	}
	return t.prune(root)
}

func replaceDir(tmp, final string) error {
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	return os.Rename(tmp, final)
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
		if err := os.RemoveAll(all[0]); err != nil {
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
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
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

// Resume loads weights, optimizer moments and trainer state from a
// checkpoint folder, so that Run continues where that run stopped.
func (t *Trainer) Resume(dir string) error {
	js, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return err
	}
	var st stateJSON
	if err := json.Unmarshal(js, &st); err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(dir, stateFile), err)
	}
	if err := loadWeights(t.params, dir); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
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
	t.state = st.State
	t.epochB = t.train(t.state.Epoch)
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
