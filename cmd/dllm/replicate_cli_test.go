package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dllm replicate checks its flags and the corpora before any work: one
// line naming the problem, exit status 2. (The pipeline itself is tested
// in package replicate at its tiny size.)
func TestReplicateBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"replicate", "--corpora", dir}, "--out is required"},
		{"unknown size", []string{"replicate", "--out", filepath.Join(dir, "o"), "--size", "huge"}, `--size: unknown size "huge"`},
		{"no corpora", []string{"replicate", "--out", filepath.Join(dir, "o"), "--corpora", dir}, filepath.Join(dir, "sotu.jsonl") + ": missing (scripts/fetch-corpora.sh fetches it)"},
		{"negative seeds", []string{"replicate", "--out", filepath.Join(dir, "o"), "--seeds", "-1"}, "--seeds must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(c.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.want)
			require.Len(t, strings.Split(strings.TrimSpace(stderr), "\n"), 1, stderr)
		})
	}
}
