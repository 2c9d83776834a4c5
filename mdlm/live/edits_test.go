package live

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/editflow"
)

var editWords = map[int32]string{1: "<s>", 3: "_", 5: "a", 6: "b", 7: "c", 8: "d", 9: "e"}

func editRender(id int32) string { return editWords[id] + " " }

// One step that inserts, substitutes and deletes: [<s> a _ _ b] becomes
// [<s> a d e c] (the masks substituted by d and e, b deleted, c inserted
// after it).
func editStep() EditFrame {
	return EditFrame{Step: 4, MaxSteps: 10, Before: []int32{1, 5, 3, 3, 6}, PromptLen: 2, MaskID: 3,
		Edits: []editflow.Edit{{Kind: editflow.Sub, Row: 2, Token: 8}, {Kind: editflow.Sub, Row: 3, Token: 9},
			{Kind: editflow.Del, Row: 4, Token: editflow.NoToken}, {Kind: editflow.Ins, Row: 4, Token: 7}}}
}

func TestEditPlainListsEachKind(t *testing.T) {
	var b strings.Builder
	v := New(&b, editRender, Options{Mode: Plain})
	v.Edit(EditFrame{Step: 0, MaxSteps: 10, Before: []int32{1, 5, 3}, PromptLen: 2, MaskID: 3}) // no edits: no line
	v.Edit(editStep())
	require.NoError(t, v.Close())
	require.Equal(t, "step 5/10  length 3  +1 ~2 -1: ~\"d \" ~\"e \" -\"b \" +\"c \"\nresult: d e c \n", b.String())
}

func TestEditANSIStylesEachKind(t *testing.T) {
	var b strings.Builder
	v := New(&b, editRender, Options{Mode: ANSI, Width: 80, Height: 10})
	v.Edit(editStep())
	out := b.String()
	require.Contains(t, out, styleSubstituted+"d e "+styleReset)
	require.Contains(t, out, styleDeleted+"b "+styleReset)
	require.Contains(t, out, styleInserted+"c "+styleReset)
	require.NotContains(t, out, "a ", "the prompt is not drawn")
	require.Contains(t, out, "step 5/10  length 3  +1 ~2 -1")
	// The next frame redraws over this one (two lines: text and status).
	b.Reset()
	v.Edit(EditFrame{Step: 5, MaxSteps: 10, Before: []int32{1, 5, 8, 9, 7}, PromptLen: 2, MaskID: 3})
	require.True(t, strings.HasPrefix(b.String(), "\x1b[2F"+clearBelow), "%q", b.String())
}
