package data

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSameAnswer(t *testing.T) {
	cases := []struct {
		got, want string
		same      bool
	}{
		{"3 7 19", "3 7 19", true},
		{" 3 7  19\n", "3 7 19", true},
		{"3\n7\t19", "3 7 19", true},
		{"", "  ", true},
		{"3 7 91", "3 7 19", false},
		{"3 7 19 20", "3 7 19", false},
		{"37 19", "3 7 19", false},
	}
	for _, c := range cases {
		require.Equal(t, c.same, SameAnswer(c.got, c.want), "%q vs %q", c.got, c.want)
	}
	require.Equal(t, "a b c", NormalizeAnswer("\ta  b\nc "))
}

func TestCutEndMarker(t *testing.T) {
	const m = "[/Answer]"
	cases := []struct{ in, want string }{
		{"cat dog", "cat dog"},
		{"  cat dog \n", "cat dog"},
		{"cat dog [/Answer] more", "cat dog"},
		{"cat dog[/Answer]", "cat dog"},
		{"cat dog [/Answer", "cat dog"},   // temperature sampling, cut by the padding
		{"cat dog [/Answer\n", "cat dog"}, // with the newline the template puts after it
		{"cat dog[/Ans", "cat dog"},
		{"cat dog [/", "cat dog"},
		{"cat dog AnswerAnswer]", "cat dog"}, // the ancestral sampler's
		{"cat dog Answer]", "cat dog"},
		{"cat dog /Answer] [/Answer", "cat dog"},
		{"cat dog swer]", "cat dog"},
		// What stays: words that share letters or a bracket with the marker.
		{"the Answer", "the Answer"},
		{"[1, 2]", "[1, 2]"},
		{"a, r]", "a, r]"},
		{"cat [", "cat ["},
		{"Answers]", "Answers]"},
		{"[/Answer]", ""},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, CutEndMarker(c.in, m), "%q", c.in)
	}
	require.Equal(t, "x", CutEndMarker("x <|eot", "<|eot_id|>"), "another template's marker")
	require.Equal(t, "x", CutEndMarker(" x ", ""))
}
