package data

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Special ids of the byte encoders below; text bytes map to byte+byteBase.
const (
	testPad  = 0
	byteBase = 4
)

// byteEncoder gives one id per byte.
type byteEncoder struct{}

func (byteEncoder) Encode(text string, addSpecial bool) []int {
	ids := make([]int, 0, len(text)+2)
	if addSpecial {
		ids = append(ids, 2) // [CLS]-like, must never appear in SFT rows
	}
	for i := 0; i < len(text); i++ {
		ids = append(ids, int(text[i])+byteBase)
	}
	if addSpecial {
		ids = append(ids, 3)
	}
	return ids
}

func decode(ids []int32) string {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id - byteBase)
	}
	return string(b)
}

// mergingEncoder is a byteEncoder that fuses a newline with the byte after it,
// the way a BPE tokenizer can merge across the prompt/answer boundary.
type mergingEncoder struct{}

func (mergingEncoder) Encode(text string, _ bool) []int {
	var ids []int
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' && i+1 < len(text) {
			ids = append(ids, 1000+int(text[i+1]))
			i++
			continue
		}
		ids = append(ids, int(text[i])+byteBase)
	}
	return ids
}

func TestNewSFTExampleLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 200 {
		msgs := randomConversation(rng)
		conv := Conversation{Messages: msgs, Task: "t"}
		ex, matched, err := NewSFTExample(byteEncoder{}, conv, nil)
		require.NoError(t, err)
		require.True(t, matched)

		full, err := BertChat.Render(msgs, false)
		require.NoError(t, err)
		require.Equal(t, full, decode(ex.InputIDs), "trial %d", trial)
		require.Len(t, ex.Labels, len(ex.InputIDs))

		// The prompt is the conversation without its last answer, plus "[Answer]\n".
		prompt := decode(ex.InputIDs[:ex.PromptLen])
		require.True(t, strings.HasSuffix(prompt, "[/Question]\n\n[Answer]\n"), "%q", prompt)
		for i, l := range ex.Labels {
			if i < ex.PromptLen {
				require.EqualValues(t, IgnoreIndex, l, "prompt position %d is supervised", i)
			} else {
				require.Equal(t, ex.InputIDs[i], l)
			}
		}
		// Exactly the final answer and its closing marker are supervised.
		answer := strings.TrimSpace(msgs[len(msgs)-1].Content)
		assert.Equal(t, answer+"\n[/Answer]\n\n", decode(ex.InputIDs[ex.PromptLen:]))
		assert.Equal(t, "t", ex.Task)
		for _, id := range ex.InputIDs {
			require.GreaterOrEqual(t, id, int32(byteBase), "no special token is added")
		}
	}
}

func TestNewSFTExampleRejectsBadConversation(t *testing.T) {
	_, _, err := NewSFTExample(byteEncoder{}, Conversation{Messages: []Message{{RoleUser, "q"}}}, nil)
	assert.ErrorContains(t, err, "assistant's reply")
	_, _, err = NewSFTExample(byteEncoder{}, Conversation{Messages: []Message{{RoleAssistant, "a"}}}, nil)
	assert.ErrorContains(t, err, "no user message")

	convs := []Conversation{{Messages: []Message{{RoleUser, "q"}, {RoleAssistant, "a"}}},
		{Messages: []Message{{RoleUser, "q"}}, Source: "chat.jsonl:2"}}
	_, _, err = BuildSFT(byteEncoder{}, convs, SFTConfig{MaxLen: 64})
	assert.ErrorContains(t, err, "chat.jsonl:2: ")
}

func TestBuildSFTDropsAndTruncates(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	convs := make([]Conversation, 300)
	for i := range convs {
		convs[i] = Conversation{Messages: randomConversation(rng)}
	}
	// Full-length rows first, to know what to expect.
	full := make([]Example, len(convs))
	for i, c := range convs {
		ex, _, err := NewSFTExample(byteEncoder{}, c, nil)
		require.NoError(t, err)
		full[i] = ex
	}
	for _, maxLen := range []int{40 + rng.IntN(40), 80 + rng.IntN(80), 1 << 20} {
		var wantKept []Example
		wantDropped, wantTrunc := 0, 0
		for _, ex := range full {
			switch {
			case ex.PromptLen >= maxLen:
				wantDropped++
			case len(ex.InputIDs) > maxLen:
				wantTrunc++
				wantKept = append(wantKept, Example{ex.InputIDs[:maxLen], ex.Labels[:maxLen], ex.PromptLen, ex.Task})
			default:
				wantKept = append(wantKept, ex)
			}
		}
		for _, workers := range []int{1, 3} {
			got, st, err := BuildSFT(byteEncoder{}, convs, SFTConfig{MaxLen: maxLen, PadID: testPad, Workers: workers})
			require.NoError(t, err)
			assert.Equal(t, SFTStats{Examples: len(wantKept), Dropped: wantDropped, Truncated: wantTrunc}, st)
			require.Equal(t, wantKept, got, "maxLen %d workers %d", maxLen, workers)
			for _, ex := range got {
				require.LessOrEqual(t, len(ex.InputIDs), maxLen)
				require.Less(t, ex.PromptLen, len(ex.InputIDs), "every kept row supervises a token")
			}
		}
	}
}

func TestBuildSFTCountsPromptMismatch(t *testing.T) {
	convs := []Conversation{{Messages: []Message{{RoleUser, "q"}, {RoleAssistant, "a"}}}}
	_, st, err := BuildSFT(mergingEncoder{}, convs, SFTConfig{MaxLen: 100})
	require.NoError(t, err)
	assert.Equal(t, 1, st.PromptMismatch)
	_, st, err = BuildSFT(byteEncoder{}, convs, SFTConfig{MaxLen: 100})
	require.NoError(t, err)
	assert.Equal(t, 0, st.PromptMismatch)
}

func TestPadBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	rows := make([]Example, 2+rng.IntN(6))
	for i := range rows {
		ex, _, err := NewSFTExample(byteEncoder{}, Conversation{Messages: randomConversation(rng)}, nil)
		require.NoError(t, err)
		rows[i] = ex
	}
	b := PadBatch(rows, testPad)
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(r.InputIDs))
	}
	require.Equal(t, len(rows), b.B)
	require.Equal(t, longest, b.S)
	require.Len(t, b.InputIDs, b.B*b.S)
	require.Len(t, b.Labels, b.B*b.S)
	wantSupervised := 0
	for i, r := range rows {
		ids, labels := b.Row(i)
		assert.Equal(t, r.InputIDs, ids[:len(r.InputIDs)])
		assert.Equal(t, r.Labels, labels[:len(r.Labels)])
		for j := len(r.InputIDs); j < b.S; j++ {
			require.EqualValues(t, testPad, ids[j])
			require.EqualValues(t, testPad, labels[j], "padding is supervised as [PAD]")
		}
		assert.Equal(t, r.PromptLen, b.PromptLens[i])
		wantSupervised += b.S - r.PromptLen
	}
	assert.Equal(t, wantSupervised, b.Supervised())

	_, err := PadBatchTo(rows, testPad, longest-1)
	assert.Error(t, err)
	b2, err := PadBatchTo(rows, testPad, longest+5)
	require.NoError(t, err)
	assert.Equal(t, longest+5, b2.S)
}

func TestLengthGroupedBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	n := 1000 + rng.IntN(500)
	lengths := make([]int, n)
	for i := range lengths {
		lengths[i] = 5 + rng.IntN(500)
	}
	const bs = 8
	batches, err := LengthGroupedBatches(lengths, bs, 7)
	require.NoError(t, err)

	seen := make([]int, n)
	short := 0
	for _, bt := range batches {
		require.NotEmpty(t, bt)
		require.LessOrEqual(t, len(bt), bs)
		if len(bt) < bs {
			short++
		}
		for _, i := range bt {
			seen[i]++
		}
	}
	for i, c := range seen {
		require.Equal(t, 1, c, "row %d appears %d times", i, c)
	}
	assert.LessOrEqual(t, short, (n+bs*megaBatches-1)/(bs*megaBatches), "only a group's last batch may be short")
	assert.Equal(t, slices.Max(lengths), lengths[batches[0][0]], "the longest row comes first")

	// Grouping wastes far less on padding than random batches of the same size.
	waste := func(bs [][]int) int {
		w := 0
		for _, bt := range bs {
			m := 0
			for _, i := range bt {
				m = max(m, lengths[i])
			}
			for _, i := range bt {
				w += m - lengths[i]
			}
		}
		return w
	}
	perm := Permutation(n, 7)
	var random [][]int
	for lo := 0; lo < n; lo += bs {
		random = append(random, perm[lo:min(lo+bs, n)])
	}
	assert.Less(t, waste(batches)*5, waste(random), "grouped %d vs random %d", waste(batches), waste(random))

	again, err := LengthGroupedBatches(lengths, bs, 7)
	require.NoError(t, err)
	assert.Equal(t, batches, again, "same seed, same batches")
	other, err := LengthGroupedBatches(lengths, bs, EpochSeed(7, 1))
	require.NoError(t, err)
	assert.NotEqual(t, batches, other)

	_, err = LengthGroupedBatches(lengths, 0, 1)
	assert.Error(t, err)
	empty, err := LengthGroupedBatches(nil, 4, 1)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestSFTBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	convs := make([]Conversation, 50)
	for i := range convs {
		convs[i] = Conversation{Messages: randomConversation(rng)}
	}
	exs, _, err := BuildSFT(byteEncoder{}, convs, SFTConfig{MaxLen: 512, PadID: testPad})
	require.NoError(t, err)
	batches, err := SFTBatches(exs, 4, testPad, 3)
	require.NoError(t, err)
	rows := 0
	for _, b := range batches {
		rows += b.B
		for i := range b.B {
			ids, _ := b.Row(i)
			assert.NotEqual(t, int32(testPad), ids[0], "a row starts with text, not padding")
		}
	}
	assert.Equal(t, len(exs), rows)
}

// BenchmarkSFTPipeline measures this package's own cost per token (rendering,
// labels, grouping, padding) with a trivial encoder.
func BenchmarkSFTPipeline(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	convs := make([]Conversation, 2000)
	for i := range convs {
		convs[i] = Conversation{Messages: randomConversation(rng)}
	}
	tokens := 0
	for b.Loop() {
		exs, _, err := BuildSFT(byteEncoder{}, convs, SFTConfig{MaxLen: 512, PadID: testPad})
		if err != nil {
			b.Fatal(err)
		}
		batches, err := SFTBatches(exs, 16, testPad, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			tokens += bt.B * bt.S
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}
