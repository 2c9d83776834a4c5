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
