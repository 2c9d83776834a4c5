package main

import (
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTopLevel: what dllm does with no command, help, a group of two-word
// commands and --version.
func TestTopLevel(t *testing.T) {
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string // each must contain it ("" : must be empty)
	}{
		{args: nil, code: 2, stderr: "Usage: dllm <command>"},
		{args: []string{"help"}, code: 0, stdout: "Commands:"},
		{args: []string{"-h"}, code: 0, stdout: "Commands:"},
		{args: []string{"help", "sft"}, code: 0, stdout: "-resume"},
		{args: []string{"help", "tokenizer", "train"}, code: 0, stdout: "--vocab-size"},
		{args: []string{"help", "tokenizer"}, code: 0, stdout: "tokenizer train"},
		{args: []string{"help", "nope"}, code: 2, stderr: `unknown command "nope"`},
		{args: []string{"tokenizer", "-h"}, code: 0, stdout: "tokenizer train"},
		{args: []string{"tokenizer"}, code: 2, stderr: "tokenizer train"},
		{args: []string{"tokenizer", "nope"}, code: 2, stderr: `unknown command "nope"`},
		{args: []string{"kernels", "--help"}, code: 0, stdout: "kernels compile"},
		{args: []string{"--version"}, code: 0, stdout: "dllm "},
		{args: []string{"version"}, code: 0, stdout: "dllm "},
		{args: []string{"nope"}, code: 2, stderr: `unknown command "nope"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			require.Equal(t, c.code, code, "stdout %s\nstderr %s", stdout, stderr)
			for _, w := range []struct{ got, want string }{{stdout, c.stdout}, {stderr, c.stderr}} {
				if w.want == "" {
					assert.Empty(t, w.got)
				} else {
					assert.Contains(t, w.got, w.want)
				}
			}
		})
	}
	_, stdout, _ := runCLI("help", "sft")
	assert.NotContains(t, stdout, "Commands:", "help sft is sft's usage, not the list")
	_, stdout, _ = runCLI("--version")
	assert.Contains(t, stdout, runtime.Version())
}

// TestHelpOnce: every command's -h prints its usage once, on stderr, and
// exits 0; dllm help <command> prints the same on stdout.
func TestHelpOnce(t *testing.T) {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			args := append(strings.Fields(n), "-h")
			code, stdout, stderr := runCLI(args...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, stdout)
			first := strings.SplitN(strings.TrimSpace(stderr), "\n", 2)[0]
			require.NotEmpty(t, first)
			assert.Equal(t, 1, strings.Count(stderr, first), "the usage came out more than once:\n%s", stderr)
			code, help, _ := runCLI(append([]string{"help"}, strings.Fields(n)...)...)
			require.Equal(t, 0, code)
			assert.Equal(t, stderr, help)
		})
	}
}

// TestSamplingHelpNamesGenerationConfig: -h says that a model's
// generation_config.json may replace the defaults it shows.
func TestSamplingHelpNamesGenerationConfig(t *testing.T) {
	for _, cmd := range []string{"generate", "chat", "eval"} {
		_, _, stderr := runCLI(cmd, "-h")
		assert.Contains(t, stderr, "generation_config.json sets its own default", cmd)
	}
}

// TestChatCtrlC: Ctrl-C during an answer stops it and returns to the
// prompt (the turn is dropped, the next one is answered, a second Ctrl-C
// would have the default action); Ctrl-C at the prompt quits, as the end of
// the input does.
func TestChatCtrlC(t *testing.T) {
	_, model := briefTraining(t, 40, 2)
	ch := make(chan os.Signal, 1)
	var mu sync.Mutex
	var caught []bool
	saved, savedHook := chatInterrupts, chatStepHook
	t.Cleanup(func() { chatInterrupts, chatStepHook = saved, savedHook })
	chatInterrupts = func() (<-chan os.Signal, func(bool)) {
		return ch, func(on bool) {
			mu.Lock()
			defer mu.Unlock()
			caught = append(caught, on)
		}
	}
	caughtNow := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(caught)
	}
	args := []string{"--model", model, "--max-new-tokens", "8", "--steps", "8", "--block-size", "8", "--visualize=false"}

	// Ctrl-C at the first step of the first answer: the hook waits until the
	// watcher has taken it (and switched the catching off) before the step
	// goes on, so the sampler stops there.
	steps := 0
	chatStepHook = func() {
		steps++
		if steps != 1 {
			return
		}
		ch <- os.Interrupt
		deadline := time.Now().Add(10 * time.Second)
		for len(caughtNow()) < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	var out strings.Builder
	err := runChat(args, strings.NewReader("Repeat: fox tree\nRepeat: lamp\n"), &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(out.String(), "(interrupted"), out.String())
	assert.Equal(t, 1, strings.Count(out.String(), "bot> "), "the second question is answered:\n%s", out.String())
	assert.Equal(t, []bool{true, false, true, false}, caughtNow(), "caught, default for the second Ctrl-C, caught again, released")

	// Ctrl-C at the prompt quits.
	chatStepHook = nil
	caught = nil
	r, w := io.Pipe()
	defer w.Close()
	ch <- os.Interrupt
	out.Reset()
	require.NoError(t, runChat(args, r, &out, &out))
	assert.NotContains(t, out.String(), "bot> ")
}
