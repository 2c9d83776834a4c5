package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// The test binary is also the dllm binary: run with DLLM_TEST_AS_CLI=1 it
// runs its arguments as a dllm command line, so that tests can kill a real
// process without building one.
func init() {
	if os.Getenv("DLLM_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// startCLI starts `dllm args...` as a process of its own.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DLLM_TEST_AS_CLI=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	return cmd, &stderr
}

// waitFor waits up to d for cmd to end: whether it ended, and its error.
func waitFor(cmd *exec.Cmd, done <-chan error, d time.Duration) (bool, error) {
	select {
	case err := <-done:
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// TestFaultInjection kills a training run with SIGKILL at random moments
// (while it loads, trains, writes a checkpoint or saves the final model)
// and continues it each time with `dllm sft --resume OUT` alone (or starts
// it again with --overwrite when it died before its first checkpoint). The
// final weights must equal those of a run never interrupted byte for byte,
// every checkpoint folder present must load, no temporary file or folder
// may be left, and metrics.jsonl must hold each step once. A few kills
// here; DLLM_LONG_TESTS=1 runs TestLongFaultInjection with 25.
func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("starts training processes")
	}
	faultInjection(t, 3)
}

func TestLongFaultInjection(t *testing.T) {
	if os.Getenv("DLLM_LONG_TESTS") != "1" {
		t.Skip("kills a training run 25 times: set DLLM_LONG_TESTS=1")
	}
	faultInjection(t, 25)
}

func faultInjection(t *testing.T, kills int) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 200)
	const steps = 12
	args := func(out string) []string {
		return []string{"sft", "--data", data, "--out", out, "--steps", fmt.Sprint(steps), "--batch-size", "8",
			"--vocab-size", "300", "--samples", "0", "--save-every", "3", "--keep-last", "3", "--eval-every", "4"}
	}
	ref := filepath.Join(dir, "reference")
	began := time.Now()
	cmd, log := startCLI(t, args(ref)...)
	require.NoError(t, cmd.Wait(), log.String())
	whole := time.Since(began)
	want, err := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	require.NoError(t, err)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("an uninterrupted run takes %s; kill times drawn with seed %d", whole.Round(time.Millisecond), seed)
	survived, runs := 0, 0
	moments := map[string]int{}
	for cycle := 0; survived < kills; cycle++ {
		out := filepath.Join(dir, fmt.Sprintf("run%d", cycle))
		next := args(out)
		for {
			cmd, log := startCLI(t, next...)
			runs++
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			wait := time.Duration(rng.Float64() * 1.2 * float64(whole))
			if survived >= kills {
				wait = 10 * time.Minute
			}
			ended, err := waitFor(cmd, done, wait)
			if ended {
				require.NoError(t, err, "run %d: %s", runs, log.String())
				break
			}
			require.NoError(t, cmd.Process.Kill())
			<-done
			survived++
			moments[killMoment(out, steps)]++
			checkCheckpoints(t, out)
			if _, err := train.FindCheckpoint(out); err == nil {
				next = []string{"sft", "--resume", out}
			} else {
				next = append(args(out), "--overwrite")
			}
		}
		got, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "cycle %d: the final weights differ from the uninterrupted run's", cycle)
		checkCheckpoints(t, out)
		var seen []int
		for _, l := range readMetricLines(t, out) {
			if l.Loss != nil {
				seen = append(seen, l.Step)
			}
		}
		require.Len(t, seen, steps, "cycle %d: %v", cycle, seen)
		for i, s := range seen {
			require.Equal(t, i+1, s, "cycle %d: each step once", cycle)
		}
		require.NoError(t, filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			require.NotContains(t, d.Name(), ".tmp", "left behind: %s", path)
			require.NotEqual(t, train.LockFile, d.Name(), "the lock is released")
			return nil
		}))
	}
	t.Logf("survived %d kills over %d processes: %v", survived, runs, moments)
}

// killMoment tells from what a killed run left in out when it died:
// before its first checkpoint, while writing one, while training between
// two, or after the last (while saving the final model).
func killMoment(out string, steps int) string {
	entries, _ := os.ReadDir(filepath.Join(out, "checkpoints"))
	last := -1
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			return "writing a checkpoint"
		}
		var s int
		if _, err := fmt.Sscanf(e.Name(), "step-%d", &s); err == nil {
			last = max(last, s)
		}
	}
	switch {
	case last < 0:
		return "before the first checkpoint"
	case last == steps:
		return "final save"
	}
	return "training"
}

// checkCheckpoints requires every complete checkpoint folder of out to load:
// the model folder and the trainer's state with its run record.
func checkCheckpoints(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			continue // being written when the process died; the next run removes it
		}
		dir := filepath.Join(out, "checkpoints", e.Name())
		_, err := modeldir.Open(dir, tensor.CPU())
		require.NoError(t, err, dir)
		spec, _, err := train.ReadRunSpec(dir)
		require.NoError(t, err, dir)
		require.NotNil(t, spec, dir)
	}
}

// A closed terminal (SIGHUP) stops a run like Ctrl-C: with a checkpoint of
// the step it reached.
func TestSIGHUPSaves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a training process")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 100)
	out := filepath.Join(dir, "out")
	cmd, log := startCLI(t, "sft", "--data", data, "--out", out, "--steps", "100000", "--batch-size", "4",
		"--vocab-size", "300", "--samples", "0", "--save-every", "100000")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		js, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if bytes.Count(js, []byte("\n")) >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no step after a minute: %s", log.String())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	err := <-done
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, log.String())
	require.Equal(t, 1, exit.ExitCode(), log.String())
	require.Contains(t, log.String(), "checkpoint saved; continue with --resume "+out)
	ck, err := train.FindCheckpoint(out)
	require.NoError(t, err, log.String())
	_, step, err := train.ReadRunSpec(ck)
	require.NoError(t, err)
	require.Positive(t, step)
}
