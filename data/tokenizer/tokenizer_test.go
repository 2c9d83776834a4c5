package tokenizer

import (
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadTestdata(t testing.TB, file string) *Tokenizer {
	t.Helper()
	tok, err := Load(filepath.Join("testdata", file))
	require.NoError(t, err)
	return tok
}

// trickyText draws strings from characters that stress the GPT-2 split rules:
// spaces of several kinds, apostrophes, letters with and without marks,
// digits, punctuation and emoji.
func trickyText(rng *rand.Rand, n int) string {
	parts := []string{" ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "'", "'s", "'ll", "'RE",
		"a", "Z", "é", "e\u0301", "ß", "日", "1", "٣", "½", ".", ",", "!?", "-", "_", "👍🏽", "‍", "\x00"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

// The hand-written GPT-2 scanner and Go's regexp running the same pattern
// (with the emulated lookahead, as Split uses it) must cut text identically:
// two independent implementations of one regex.
func TestSplitGPT2MatchesRegex(t *testing.T) {
	re, err := compileOnig(`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		s := trickyText(rng, 1+rng.IntN(12))
		var want []int
		for _, sp := range re.spans(nil, s) {
			require.True(t, sp.match, "the regex covers every character of %q", s)
			want = append(want, sp.end)
		}
		assert.Equal(t, want, splitGPT2(nil, s), "%q", s)
	}
}

func TestSplitGPT2Examples(t *testing.T) {
	cut := func(s string) []string {
		var out []string
		start := 0
		for _, end := range splitGPT2(nil, s) {
			out = append(out, s[start:end])
			start = end
		}
		return out
	}
	assert.Equal(t, []string{"Hello", " world"}, cut("Hello world"))
	assert.Equal(t, []string{"a", "  ", " b"}, cut("a   b"), "a space run gives its last space to the next word")
	assert.Equal(t, []string{"a", "\n", "b"}, cut("a\nb"), "a lone newline stays alone")
	assert.Equal(t, []string{"x", "  "}, cut("x  "), "trailing whitespace stays whole")
	assert.Equal(t, []string{"I", "'m", " fine", "'", "S"}, cut("I'm fine'S"), "contractions are lowercase only")
	assert.Equal(t, []string{" 42", "!!!"}, cut(" 42!!!"))
}

// The scan merge (short words) and the queue merge (long words) must agree.
func TestMergePathsAgree(t *testing.T) {
	tok := loadTestdata(t, "gpt2.json.gz")
	m := tok.model.(*bpe)
	st := newEncodeState()
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := "aaabbeeilnorst  th"
	for i := 0; i < 2000; i++ {
		n := 2 + rng.IntN(40)
		word := make([]byte, n)
		for k := range word {
			word[k] = alphabet[rng.IntN(len(alphabet))]
		}
		syms := make([]int32, n)
		for k, c := range word {
			syms[k] = m.byteID[c]
		}
		scan := append([]int32(nil), m.mergeAll(st, append([]int32(nil), syms...))...)
		queue := append([]int32(nil), m.mergeWithQueue(st, append([]int32(nil), syms...))...)
		require.Equal(t, scan, queue, "%q", word)
	}
}

// Rust's from_utf8_lossy puts one U+FFFD per maximal invalid prefix.
func TestLossyUTF8(t *testing.T) {
	cases := map[string]string{
		"abc":                  "abc",
		"\xff\xfe":             "\uFFFD\uFFFD",
		"\xf0\x9f\x98":         "\uFFFD", // a cut-off emoji is one replacement
		"\xf0\x9f\x98a":        "\uFFFDa",
		"\xe0\x80\x80":         "\uFFFD\uFFFD\uFFFD", // overlong: the lead byte alone is the prefix
		"\xed\xa0\x80":         "\uFFFD\uFFFD\uFFFD", // surrogate
		"é\xc3":                "é\uFFFD",
		"\xf4\x90\x80\x80":     "\uFFFD\uFFFD\uFFFD\uFFFD", // above U+10FFFF
		"\xe2\x82\xac\xe2\x82": "€\uFFFD",
	}
	for in, want := range cases {
		got := string(appendLossyUTF8(nil, []byte(in)))
		assert.Equal(t, want, got, "%q", in)
		assert.True(t, utf8.ValidString(got))
	}
}

func TestByteAlphabet(t *testing.T) {
	assert.Equal(t, 'Ġ', byteToRune[' '])
	assert.Equal(t, 'Ċ', byteToRune['\n'])
	assert.Equal(t, 'a', byteToRune['a'])
	assert.Len(t, runeToByte, 256)
}

func TestUnsupportedComponentsAreNamed(t *testing.T) {
	model := `"model":{"type":"BPE","vocab":{"a":0},"merges":[]}`
	cases := map[string]string{
		`{"normalizer":{"type":"Precompiled","precompiled_charsmap":""},` + model + `}`:                       "Precompiled",
		`{"pre_tokenizer":{"type":"UnicodeScripts"},` + model + `}`:                                           "UnicodeScripts",
		`{"decoder":{"type":"CTC"},` + model + `}`:                                                            "CTC",
		`{"post_processor":{"type":"Fancy"},` + model + `}`:                                                   "Fancy",
		`{"model":{"type":"Unigram","vocab":[]}}`:                                                             "Unigram",
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}}`:                                  "dropout",
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`:                                           "not in vocabulary",
		`{"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated"},` + model + `}`: "lookaround",
		`{"padding":{"strategy":"Longest"},` + model + `}`:                                                    "padding strategy",
		`{"version":"1.0"}`: "no model",
		`not json`:          "tokenizer.json",
	}
	for js, want := range cases {
		_, err := FromJSON([]byte(js))
		if assert.Error(t, err, js) {
			assert.Contains(t, err.Error(), want, js)
		}
	}
}

func TestSaveRoundTrip(t *testing.T) {
	for _, file := range []string{"gpt2.json.gz", "bert-base-uncased.json.gz", "llama-style.json"} {
		tok := loadTestdata(t, file)
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		require.NoError(t, tok.Save(path))
		again, err := Load(path)
		require.NoError(t, err)
		text := "Hello, wörld! [MASK] <s> 12345 日本"
		assert.Equal(t, tok.Encode(text, true), again.Encode(text, true), file)
		assert.Equal(t, tok.VocabSize(), again.VocabSize(), file)
	}
}

func TestLookups(t *testing.T) {
	tok := loadTestdata(t, "modernbert-style.json.gz")
	id, ok := tok.TokenToID("Ġworld")
	require.True(t, ok)
	s, ok := tok.IDToToken(id)
	assert.True(t, ok)
	assert.Equal(t, "Ġworld", s)
	mask, ok := tok.SpecialID("[MASK]")
	assert.True(t, ok)
	assert.Equal(t, 50261, mask)
	_, ok = tok.SpecialID("Ġworld")
	assert.False(t, ok, "a vocabulary token is not special")
	assert.Equal(t, Specials{Pad: 50260, Unk: 50257, Cls: 50258, Sep: 50259, Mask: 50261}, tok.Specials())
	_, ok = tok.IDToToken(tok.VocabSize())
	assert.False(t, ok)
	assert.Equal(t, "BPE", tok.ModelType())
}

func TestDecodeToken(t *testing.T) {
	bpeTok := loadTestdata(t, "modernbert-style.json.gz")
	world, _ := bpeTok.TokenToID("Ġworld")
	assert.Equal(t, " world", bpeTok.DecodeToken(world))
	mask, _ := bpeTok.SpecialID("[MASK]")
	assert.Equal(t, "[MASK]", bpeTok.DecodeToken(mask))
	// Half of a two-byte character.
	half, _ := bpeTok.TokenToID("Ã")
	assert.Equal(t, "\uFFFD", bpeTok.DecodeToken(half))
	assert.Equal(t, "", bpeTok.DecodeToken(-1))

	wp := loadTestdata(t, "bert-base-uncased.json.gz")
	ing, _ := wp.TokenToID("##ing")
	hello, _ := wp.TokenToID("hello")
	assert.Equal(t, "ing", wp.DecodeToken(ing))
	assert.Equal(t, " hello", wp.DecodeToken(hello))

	llama := loadTestdata(t, "llama-style.json")
	the, ok := llama.TokenToID("▁the")
	require.True(t, ok)
	assert.Equal(t, " the", llama.DecodeToken(the), "Strip after Fuse only trims the text's start")
	a, _ := llama.TokenToID("<0x41>")
	assert.Equal(t, "A", llama.DecodeToken(a))
	assert.Equal(t, "the", llama.Decode([]int{the}, false))

	sp := loadTestdata(t, "metaspace-style.json")
	the, ok = sp.TokenToID("▁the")
	require.True(t, ok)
	assert.Equal(t, " the", sp.DecodeToken(the))
}

func TestPaddingAndTruncationSetters(t *testing.T) {
	tok := loadTestdata(t, "bert-base-uncased.json.gz")
	require.NotNil(t, tok.Padding())
	assert.Len(t, tok.Encode("hello world", true), 128, "the file pads to 128")
	tok.SetPadding(nil)
	assert.Equal(t, []int{101, 7592, 2088, 102}, tok.Encode("hello world", true))
	tok.SetTruncation(&Truncation{MaxLength: 3, Direction: "Right"})
	assert.Equal(t, []int{101, 7592, 102}, tok.Encode("hello world", true), "room is left for the specials")
	assert.Equal(t, []int{7592, 2088}, tok.Encode("hello world again", false)[:2])
	tok.SetTruncation(nil)
	tok.SetPadding(&Padding{MultipleOf: 8, PadID: 0, Direction: "Left"})
	assert.Equal(t, []int{0, 0, 0, 0, 101, 7592, 2088, 102}, tok.Encode("hello world", true))
	batch := tok.EncodeBatch([]string{"hello", "hello world and more words here to pad"}, false)
	assert.Len(t, batch[0], len(batch[1]), "batch rows pad to the longest")
	// The settings are saved.
	path := filepath.Join(t.TempDir(), "t.json")
	require.NoError(t, tok.Save(path))
	again, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, tok.Encode("hello world", true), again.Encode("hello world", true))
}

// EncodeBatch runs on several goroutines sharing the tokenizer; it must give
// what Encode gives, in order.
func TestEncodeBatchMatchesEncode(t *testing.T) {
	tok := loadTestdata(t, "modernbert-style.json.gz")
	docs := makeProse(200_000, 5)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		docs = append(docs, trickyText(rng, 30))
	}
	got := tok.EncodeBatch(docs, true)
	require.Len(t, got, len(docs))
	for i, d := range docs {
		require.Equal(t, tok.Encode(d, true), got[i], "doc %d", i)
	}
}

// The word cache is bounded: more distinct words than it holds still encode
// the same after it has been emptied.
func TestCacheOverflow(t *testing.T) {
	tok := loadTestdata(t, "gpt2.json.gz")
	m := tok.model.(*bpe)
	st := newEncodeState()
	var words []string
	for i := 0; i < cacheWords+100; i++ {
		w := []byte{' ', byte('a' + i%26), byte('a' + (i/26)%26), byte('a' + (i/676)%26), byte('a' + (i/17576)%26)}
		words = append(words, string(w))
	}
	first := make([][]int, len(words))
	for i, w := range words {
		first[i] = m.tokenizeBytes(st, w, nil)
	}
	assert.LessOrEqual(t, len(st.cache), cacheWords)
	assert.Less(t, len(st.cache), len(words), "the cache was emptied on the way")
	for i, w := range words {
		require.Equal(t, first[i], m.tokenizeBytes(st, w, nil), w)
	}
	assert.Equal(t, tok.Encode(words[0], false), first[0])
}

// readTestdata returns a testdata file, decompressed if gzipped.
func readTestdata(t testing.TB, file string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		r = zr
	}
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

// Arbitrary bytes, invalid UTF-8 included, never make a tokenizer panic, and
// byte-level BPE without a normalizer gives every byte back.
func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const alphabet = " aZ'[]<>|\n\t\xc3\xa9\xe6\x97\xa5"
	inputs := make([]string, 300)
	for i := range inputs {
		b := make([]byte, rng.IntN(40))
		for k := range b {
			if rng.IntN(3) == 0 {
				b[k] = byte(rng.IntN(256))
			} else {
				b[k] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		inputs[i] = string(b)
	}
	for _, name := range parityTokenizers(t) {
		exp, tok := loadExpected(t, name)
		for _, s := range inputs {
			ids := tok.Encode(s, true)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("%s: id %d of %q is outside the vocabulary", exp.Tokenizer, id, s)
				}
			}
			tok.Decode(ids, true)
			if name == "gpt2" {
				require.Equal(t, string(appendLossyUTF8(nil, []byte(s))), tok.Decode(ids, false), "%q", s)
			}
		}
	}
}

// FuzzSplitGPT2 checks the hand-written scanner against the regex on any
// input (go test -fuzz FuzzSplitGPT2 ./data/tokenizer); the seeds run as a
// plain test.
func FuzzSplitGPT2(f *testing.F) {
	re, err := compileOnig(`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`)
	require.NoError(f, err)
	for _, s := range []string{"", "Hello world", "a   b", "x  ", "I'm", " 's", "\n\nA", "\u00a0\u3000x", "1 2  3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("Go's regexp reads invalid UTF-8 differently; HF never sees it")
		}
		var want []int
		for _, sp := range re.spans(nil, s) {
			want = append(want, sp.end)
		}
		if got := splitGPT2(nil, s); !slices.Equal(got, want) {
			t.Fatalf("%q: scanner %v, regex %v", s, got, want)
		}
	})
}
