package modeldir

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/dllmgo/dllm/"

// imports lists the dllm packages the non-test files of dir import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}

// The family packages are what registry.go imports besides lm and tensor;
// no package above the families (the CLI, the trainer) and none below them
// imports one: adding a family touches its package and one registry line.
func TestNoFamilyOutsideTheRegistry(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "registry.go", nil, parser.ImportsOnly)
	require.NoError(t, err)
	var families []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if rest, ok := strings.CutPrefix(p, module); ok && rest != "lm" && rest != "tensor" {
			families = append(families, rest)
		}
	}
	require.Contains(t, families, "bert")
	for _, dir := range []string{"cmd/dllm", "recipe", "replicate", "evaltask", "train", "mdlm", "lm", "data", "nn", "tensor", "optim"} {
		for _, p := range imports(t, filepath.Join("..", dir)) {
			require.NotContains(t, families, p, "%s imports the family package %s", dir, p)
		}
	}
	// Within modeldir only registry.go names a family.
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if name == "registry.go" || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			require.NotContains(t, families, strings.TrimPrefix(p, module), "%s names a family", name)
		}
	}
}
