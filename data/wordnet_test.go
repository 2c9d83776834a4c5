package data

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadWordNetGlosses(t *testing.T) {
	got, err := ReadWordNetGlosses(filepath.Join("testdata", "wordnet"))
	require.NoError(t, err)
	want := []Gloss{
		{"able", "adj", "(usually followed by `to') having the necessary means"},
		{"Albert Einstein", "noun", "physicist born in Germany who formulated the theory of relativity (1879-1955)"},
		{"aplenty", "adj", "in abundance"},
		{"Einstein", "noun", "physicist born in Germany who formulated the theory of relativity (1879-1955)"},
		{"galore", "adj", "in abundance"},
		{"pear", "noun", "sweet juicy gritty-textured fruit"},
		// "run" is a noun and a verb; the verb has more tagged senses (29 to 2).
		{"run", "verb", "move fast by using one's feet"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, []Message{{RoleUser, "What does Albert Einstein mean?"},
		{RoleAssistant, "physicist born in Germany who formulated the theory of relativity (1879-1955)"}},
		got[1].Conversation())
	require.NoError(t, ValidateConversation(got[0].Conversation()))
}

func TestReadWordNetGlossesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"data.noun", "index.noun", "data.verb", "index.verb", "data.adj", "index.adj", "data.adv", "index.adv"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "wordnet", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), raw, 0o644))
	}
	// A synset the index points at but the data file lacks.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.adv"), []byte("  header\nfast r 1 0 1 0 00009999  \n"), 0o644))
	_, err := ReadWordNetGlosses(dir)
	assert.ErrorContains(t, err, "index.adv:2: synset 00009999 is not in data.adv")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.noun"), []byte("00000100 03 n zz run 0 | x\n"), 0o644))
	_, err = ReadWordNetGlosses(dir)
	assert.ErrorContains(t, err, "data.noun:1: bad word count")

	_, err = ReadWordNetGlosses(t.TempDir())
	assert.Error(t, err)
}
