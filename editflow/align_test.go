package editflow

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The reference's own alignments (testdata/align_examples.json, made by
// running its function): Align and Edits must agree on every case.
func TestAlignMatchesTheReference(t *testing.T) {
	raw, err := os.ReadFile("testdata/align_examples.json")
	require.NoError(t, err)
	var fx struct {
		Blank int32 `json:"blank"`
		Cases []struct {
			Name  string  `json:"name"`
			X0    []int32 `json:"x0"`
			X1    []int32 `json:"x1"`
			Z0    []int32 `json:"z0"`
			Z1    []int32 `json:"z1"`
			Edits []struct {
				Kind  string `json:"kind"`
				Pos   int    `json:"pos"`
				Token *int32 `json:"token"`
			} `json:"edits_from_x0"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &fx))
	require.Equal(t, Blank, fx.Blank)
	require.NotEmpty(t, fx.Cases)
	for _, c := range fx.Cases {
		x1 := c.X1
		t.Run(c.Name, func(t *testing.T) {
			z0, z1 := Align(c.X0, x1)
			require.Equal(t, c.Z0, z0)
			require.Equal(t, c.Z1, z1)
			var want []Edit
			for _, e := range c.Edits {
				tok := NoToken
				if e.Token != nil {
					tok = *e.Token
				}
				kind := map[string]Kind{"SUB": Sub, "DEL": Del, "INS": Ins}[e.Kind]
				want = append(want, Edit{kind, e.Pos, tok})
			}
			require.Equal(t, want, Edits(z0, z1))
			require.Equal(t, x1, Apply(c.X0, Edits(z0, z1)))
		})
	}
}

func TestAlign(t *testing.T) {
	const B, M = 1, 3 // a BOS and a mask
	cases := []struct {
		name           string
		x0, x1, z0, z1 []int32
		edits          []Edit
	}{
		{"identical", []int32{B, 5, 6}, []int32{B, 5, 6}, []int32{B, 5, 6}, []int32{B, 5, 6}, nil},
		{"both empty", nil, nil, []int32{}, []int32{}, nil},
		{"empty x0", nil, []int32{7, 8}, []int32{-1, -1}, []int32{7, 8},
			[]Edit{{Ins, 0, 7}, {Ins, 0, 8}}},
		{"empty x1", []int32{7, 8}, nil, []int32{7, 8}, []int32{-1, -1},
			[]Edit{{Del, 0, NoToken}, {Del, 1, NoToken}}},
		{"pure insertions go right after the anchor", []int32{B}, []int32{B, 5, 6},
			[]int32{B, -1, -1}, []int32{B, 5, 6}, []Edit{{Ins, 0, 5}, {Ins, 0, 6}}},
		{"pure deletions", []int32{B, 5, 6, 7}, []int32{B, 6}, []int32{B, 5, 6, 7}, []int32{B, -1, 6, -1},
			[]Edit{{Del, 1, NoToken}, {Del, 3, NoToken}}},
		{"substitutions", []int32{B, M, M}, []int32{B, 5, 6}, []int32{B, M, M}, []int32{B, 5, 6},
			[]Edit{{Sub, 1, 5}, {Sub, 2, 6}}},
		// Ties: the first masks are deleted, the last substituted.
		{"ties delete at the front", []int32{B, M, M, M, M}, []int32{B, 5, 6},
			[]int32{B, M, M, M, M}, []int32{B, -1, -1, 5, 6},
			[]Edit{{Del, 1, NoToken}, {Del, 2, NoToken}, {Sub, 3, 5}, {Sub, 4, 6}}},
		{"ties insert at the front", []int32{B, M}, []int32{B, 5, 6, 7},
			[]int32{B, -1, -1, M}, []int32{B, 5, 6, 7},
			[]Edit{{Ins, 0, 5}, {Ins, 0, 6}, {Sub, 1, 7}}},
		// The SFT case of the reference's notes: the gap lands inside the prompt.
		{"insertion inside the prompt", []int32{B, 5, M}, []int32{B, 5, 5, 5},
			[]int32{B, -1, 5, M}, []int32{B, 5, 5, 5}, []Edit{{Ins, 0, 5}, {Sub, 2, 5}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z0, z1 := Align(c.x0, c.x1)
			require.Equal(t, c.z0, z0)
			require.Equal(t, c.z1, z1)
			require.Equal(t, c.edits, Edits(z0, z1))
			require.Equal(t, append([]int32{}, c.x0...), StripBlanks(z0))
			require.Equal(t, append([]int32{}, c.x1...), StripBlanks(z1))
			require.Equal(t, append([]int32{}, c.x1...), Apply(c.x0, Edits(z0, z1)))
		})
	}
}

// FuzzAlign checks that the alignment is optimal-length consistent and that
// its edit script turns x0 into x1 whenever the first column is not an
// insertion (the reference's trainer asserts that; a BOS on both sides
// guarantees it in practice).
func FuzzAlign(f *testing.F) {
	f.Add([]byte{1, 3, 3, 3}, []byte{1, 12, 13})
	f.Add([]byte{1, 5, 3}, []byte{1, 5, 5, 5})
	f.Add([]byte{}, []byte{4, 4})
	f.Add([]byte{1, 2, 3, 4, 5}, []byte{1, 5, 4, 3, 2})
	f.Add([]byte{1, 7, 7, 2, 2, 9}, []byte{1, 2, 7, 9, 9, 9, 2})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 64 || len(b) > 64 {
			return
		}
		x0, x1 := small(a), small(b)
		z0, z1 := Align(x0, x1)
		require.Len(t, z1, len(z0))
		require.Equal(t, x0, StripBlanks(z0))
		require.Equal(t, x1, StripBlanks(z1))
		cost := 0
		for j := range z0 {
			require.False(t, z0[j] == Blank && z1[j] == Blank, "a column of two blanks")
			if z0[j] != z1[j] {
				cost++
			}
		}
		require.LessOrEqual(t, cost, max(len(x0), len(x1)), "worse than substituting and padding")
		if len(x0) > 0 && len(z0) > 0 && z0[0] == Blank {
			return
		}
		require.Equal(t, x1, Apply(x0, Edits(z0, z1)))
	})
}

// small maps bytes to a few token ids, so that matches are common.
func small(b []byte) []int32 {
	out := make([]int32, len(b))
	for i, c := range b {
		out[i] = int32(c % 6)
	}
	return out
}
