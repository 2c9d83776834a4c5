package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// A checkpoint describes its run, so that the run can be continued from the
// checkpoint alone and a continuation that would train something else is
// refused. trainer_state.json holds two records besides the progress:
//
//   - "options": what the trainer itself was told (RecordedOptions). Resume
//     compares them with the resumed trainer's and refuses a difference
//     (MismatchError), except the intervals, the time budget and a longer
//     run.
//   - "run": what the caller recorded (RunSpec): for the dllm command every
//     flag's value, the data files with their sizes and SHA-256, the
//     tokenizer and model configuration hashes, the device and the program's
//     version. The trainer stores it and hands it back (ReadRunSpec); the
//     caller compares it.

// RecordedOptions are the Options that shape the weights a run makes, as
// trainer_state.json records them.
type RecordedOptions struct {
	Steps       int     `json:"steps"`
	Epochs      int     `json:"epochs"`
	GradAccum   int     `json:"grad_accum"`
	LR          float64 `json:"lr"`
	WarmupRatio float64 `json:"warmup_ratio"`
	MinLRRatio  float64 `json:"min_lr_ratio"`
	Schedule    string  `json:"schedule"`
	WeightDecay float64 `json:"weight_decay"`
	Clip        float64 `json:"clip"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	AdamEps     float64 `json:"adam_eps"`
	Seed        uint64  `json:"seed"`
	Objective   string  `json:"objective"`
	Precision   string  `json:"precision"`
	// TimeBudget of the run (Go duration syntax; "0s" without one).
	TimeBudget string `json:"time_budget"`
	EvalEvery  int    `json:"eval_every"`
	SaveEvery  int    `json:"save_every"`
	// Patience and KeepBest (early stopping); absent in checkpoints
	// written before early stopping existed, which had neither.
	Patience *int  `json:"patience,omitempty"`
	KeepBest *bool `json:"keep_best,omitempty"`
}

func recordOptions(o Options) RecordedOptions {
	r := RecordedOptions{
		Steps: o.Steps, Epochs: o.Epochs, GradAccum: o.GradAccum,
		LR: o.LR, WarmupRatio: o.WarmupRatio, MinLRRatio: o.MinLRRatio, Schedule: o.Schedule,
		WeightDecay: o.WeightDecay, Clip: o.Clip, Beta1: o.Beta1, Beta2: o.Beta2, AdamEps: o.AdamEps,
		Seed: o.Seed, Precision: o.Precision.String(), TimeBudget: o.TimeBudget.String(),
		EvalEvery: o.EvalEvery, SaveEvery: o.SaveEvery,
		Patience: &o.Patience, KeepBest: &o.KeepBest,
	}
	if o.Objective != nil {
		r.Objective = o.Objective.Name()
	}
	return r
}

// MismatchError says that an option of a resumed run differs from the one
// its checkpoint recorded.
type MismatchError struct {
	// Option is the option's name as trainer_state.json spells it.
	Option string
	// Was is the checkpoint's value, Now the resumed run's.
	Was, Now string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: the checkpoint's run used %s, this run asks for %s", e.Option, e.Was, e.Now)
}

// compareOptions returns the first option of now that must not differ from
// was and does. Intervals, the time budget and the length of the run may
// change (the caller checks that a run is not shortened). Patience and
// KeepBest are compared when the checkpoint recorded them: a continuation
// stops early as the run it continues would have.
func compareOptions(was, now RecordedOptions) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	checks := []struct {
		name     string
		was, now string
	}{
		{"grad_accum", strconv.Itoa(was.GradAccum), strconv.Itoa(now.GradAccum)},
		{"lr", f(was.LR), f(now.LR)},
		{"warmup_ratio", f(was.WarmupRatio), f(now.WarmupRatio)},
		{"min_lr_ratio", f(was.MinLRRatio), f(now.MinLRRatio)},
		{"schedule", was.Schedule, now.Schedule},
		{"weight_decay", f(was.WeightDecay), f(now.WeightDecay)},
		{"clip", f(was.Clip), f(now.Clip)},
		{"beta1", f(was.Beta1), f(now.Beta1)},
		{"beta2", f(was.Beta2), f(now.Beta2)},
		{"adam_eps", f(was.AdamEps), f(now.AdamEps)},
		{"seed", strconv.FormatUint(was.Seed, 10), strconv.FormatUint(now.Seed, 10)},
		{"objective", was.Objective, now.Objective},
		{"precision", was.Precision, now.Precision},
	}
	if was.Patience != nil && now.Patience != nil {
		checks = append(checks, struct{ name, was, now string }{"patience", strconv.Itoa(*was.Patience), strconv.Itoa(*now.Patience)})
	}
	if was.KeepBest != nil && now.KeepBest != nil {
		checks = append(checks, struct{ name, was, now string }{"keep_best", strconv.FormatBool(*was.KeepBest), strconv.FormatBool(*now.KeepBest)})
	}
	for _, c := range checks {
		if c.was != c.now {
			return &MismatchError{Option: c.name, Was: c.was, Now: c.now}
		}
	}
	return nil
}

// RunSpec is the caller's description of a run, stored in every checkpoint
// (Options.Run) and read back by ReadRunSpec.
type RunSpec struct {
	// Command that started the run ("sft", "pretrain").
	Command string `json:"command"`
	// Flags maps every option's name to its value as the run used it
	// (defaults resolved).
	Flags map[string]string `json:"flags"`
	// Data are the training files.
	Data []FileDigest `json:"data"`
	// TokenizerSHA256 and ModelConfigSHA256 identify the tokenizer and the
	// model's configuration the run started from.
	TokenizerSHA256   string `json:"tokenizer_sha256"`
	ModelConfigSHA256 string `json:"model_config_sha256"`
	Device            string `json:"device"`
	Version           string `json:"version"`
}

// FileDigest identifies a file's content.
type FileDigest struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// DigestFile reads path and returns its size and SHA-256.
func DigestFile(path string) (FileDigest, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileDigest{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileDigest{}, fmt.Errorf("%s: %w", path, err)
	}
	return FileDigest{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// HashBytes is the hex SHA-256 of b.
func HashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadRunSpec returns the RunSpec recorded in a checkpoint folder (nil when
// the checkpoint predates run records) and the step it was written at.
func ReadRunSpec(dir string) (*RunSpec, int, error) {
	st, err := readState(dir)
	if err != nil {
		return nil, 0, err
	}
	return st.Run, st.Step, nil
}

func parseDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}
