package evaltask

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Score is one metric: its value (a mean of per-item scores), the standard
// error of that mean, and the number of items.
type Score struct {
	Value  float64 `json:"value"`
	StdErr float64 `json:"stderr"`
	N      int     `json:"n"`
}

// Mean is the mean of xs with its standard error, sqrt(s²/n) with the
// sample variance s² (0 for fewer than two items).
func Mean(xs []float64) Score {
	n := len(xs)
	if n == 0 {
		return Score{}
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(n)
	if n < 2 {
		return Score{Value: m, N: n}
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	v /= float64(n - 1)
	return Score{Value: m, StdErr: math.Sqrt(v / float64(n)), N: n}
}

// Metric is a named score.
type Metric struct {
	Name string
	Score
}

// Result is what a task measured.
type Result struct {
	Task string
	// N counts the items scored; Skipped those that could not be (too long
	// for the model, malformed for the task).
	N, Skipped int
	// Metrics are the task's scores, the headline first.
	Metrics []Metric
	// Loss is the diffusion loss of the references (chat), when measured.
	Loss *float64
	// PerTask splits the headline metric by the items' "task" field (chat).
	PerTask map[string]Score
	// Settings record how the task ran (sampler sizes, MC samples).
	Settings map[string]any
}

// Metric returns the named score.
func (r *Result) Metric(name string) (Score, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Score, true
		}
	}
	return Score{}, false
}

// MarshalJSON writes a flat object: "task", "n", "skipped", each metric as
// NAME, NAME_stderr (and NAME_n), "loss", "per_task" (each with
// NAME, NAME_stderr, n) and "settings".
func (r *Result) MarshalJSON() ([]byte, error) {
	o := map[string]any{"task": r.Task, "n": r.N}
	if r.Skipped > 0 {
		o["skipped"] = r.Skipped
	}
	for _, m := range r.Metrics {
		o[m.Name] = m.Value
		o[m.Name+"_stderr"] = m.StdErr
	}
	if r.Loss != nil {
		o["loss"] = *r.Loss
	}
	if len(r.PerTask) > 0 && len(r.Metrics) > 0 {
		name := r.Metrics[0].Name
		pt := map[string]any{}
		for k, s := range r.PerTask {
			pt[k] = map[string]any{name: s.Value, name + "_stderr": s.StdErr, "n": s.N}
		}
		o["per_task"] = pt
	}
	if len(r.Settings) > 0 {
		o["settings"] = r.Settings
	}
	return json.Marshal(o)
}

// Summary is the one-line account of a result:
// "gsm8k: exact_match 0.172 ± 0.010 (n=1319), ...".
func (r *Result) Summary() string {
	var parts []string
	for _, m := range r.Metrics {
		parts = append(parts, fmt.Sprintf("%s %.4f ± %.4f", m.Name, m.Value, m.StdErr))
	}
	s := fmt.Sprintf("%s: %s (n=%d", r.Task, strings.Join(parts, ", "), r.N)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	s += ")"
	if r.Loss != nil {
		s += fmt.Sprintf(", loss %.4f", *r.Loss)
	}
	if len(r.PerTask) > 0 {
		keys := make([]string, 0, len(r.PerTask))
		for k := range r.PerTask {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var pt []string
		for _, k := range keys {
			pt = append(pt, fmt.Sprintf("%s %.3f", k, r.PerTask[k].Value))
		}
		s += "; " + strings.Join(pt, ", ")
	}
	return s
}

// bools turns hits into 0/1 scores.
func bools(hits []bool) []float64 {
	out := make([]float64, len(hits))
	for i, h := range hits {
		if h {
			out[i] = 1
		}
	}
	return out
}
