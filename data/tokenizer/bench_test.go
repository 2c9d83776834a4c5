package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Encoding speed is measured on English-like prose generated here (no corpus
// ships with the repo): common words with Zipf-like frequencies, a long tail
// of made-up words, capitals, punctuation, numbers, quotes and contractions,
// in paragraphs grouped into documents of a few KB.
//
// To compare with Hugging Face on the same text:
//
//	DLLM_PROSE_OUT=/tmp/prose.json go test -run TestWriteProse ./data/tokenizer
//	go test -run '^$' -bench EncodeProse -benchtime 3x ./data/tokenizer
//	node tools/tokenizer-parity/bench.js data/tokenizer/testdata/modernbert-style.json.gz /tmp/prose.json

var commonWords = strings.Fields(`the of and to a in is was that for it as with he be on by at
his this had not are but from or have an they which one you were her all she there would their we him
been has when who will more no if out so said what up its about into than them can only other new some
could time these two may then do first any my now such like our over man me even most made after also
did many before must through back years where much your way well down should because each just those
people how too little state good very make world still own see men work long get here between both life
being under never day same another know while last might us great old year off come since against go
came right used take three states himself few house use during without again place american around
however home small found thought went say part once general high upon school every don't does got
united left number course war until always away something fact though water less public put think
almost hand enough far took head yet government system better set told nothing night end why called
didn't eyes find going look asked later knew point next program city business give group toward young
days let room president side social given present several order national possible rather second face
per among form important often things looked early white case john become large big need four within
felt along children saw best church ever least power development thing light seemed family interest
want members mind country area others done turned although open god service certain kind problem began
different door thus help sense means whole matter perhaps itself york it's times law human line above
name example action company hands local show whether five history gave today either act feet across taken
past quite anything having seen death experience body word half really week field am car words already
information tell together college shall money period held keep sure real probably free seems political
cannot behind miss question air office making brought whose special major heard problems federal became
study ago moment available known result street economic boy position reason change south board individual
job society areas west close turn love community true court force full seem am front`)

var syllables = strings.Fields(`ka lo mi ne ru ta shi ver an tor pre con ex ing tion al ous ble
ment ly er est ist ize gram phon log bio geo tele trans inter micro macro struct form port ject duct`)

// makeProse returns documents totalling at least size bytes, the same for a given seed.
func makeProse(size int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 0x9E3779B97F4A7C15))
	// Zipf over the common words; a made-up word one time in eight.
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(commonWords)-1))
	rare := make([]string, 20000)
	for i := range rare {
		var b strings.Builder
		for k := 2 + rng.IntN(3); k > 0; k-- {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		rare[i] = b.String()
	}
	word := func() string {
		if rng.IntN(8) == 0 {
			return rare[rng.IntN(len(rare))]
		}
		return commonWords[zipf.Uint64()]
	}
	var docs []string
	total := 0
	for total < size {
		var doc strings.Builder
		for p := 2 + rng.IntN(4); p > 0; p-- {
			for s := 3 + rng.IntN(6); s > 0; s-- {
				n := 5 + rng.IntN(20)
				for w := 0; w < n; w++ {
					t := word()
					switch {
					case w == 0:
						t = strings.ToUpper(t[:1]) + t[1:]
					case rng.IntN(60) == 0:
						t = strconv.Itoa(rng.IntN(3000))
					case rng.IntN(40) == 0:
						t = "\"" + t + "\""
					}
					if w > 0 {
						doc.WriteByte(' ')
					}
					doc.WriteString(t)
					if w < n-1 && rng.IntN(12) == 0 {
						doc.WriteByte(',')
					}
				}
				doc.WriteString([]string{".", ".", ".", "?", "!", ";"}[rng.IntN(6)])
				if s > 1 {
					doc.WriteByte(' ')
				}
			}
			doc.WriteString("\n\n")
		}
		docs = append(docs, doc.String())
		total += doc.Len()
	}
	return docs
}

const proseBytes = 10 << 20

// TestWriteProse writes the benchmark prose as a JSON array of documents to
// $DLLM_PROSE_OUT, for the Node comparison script.
func TestWriteProse(t *testing.T) {
	out := os.Getenv("DLLM_PROSE_OUT")
	if out == "" {
		t.Skip("set DLLM_PROSE_OUT to write the benchmark prose")
	}
	data, err := json.Marshal(makeProse(proseBytes, 1))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, data, 0o644))
}

func TestProseIsDeterministic(t *testing.T) {
	a, b := makeProse(1<<16, 7), makeProse(1<<16, 7)
	require.Equal(t, a, b)
	require.NotEqual(t, a, makeProse(1<<16, 8))
}

func benchTokenizer(b *testing.B) *Tokenizer {
	tok, err := Load(filepath.Join("testdata", "modernbert-style.json.gz"))
	require.NoError(b, err)
	return tok
}

// BenchmarkEncodeProse encodes 10 MB of prose one document at a time on one
// goroutine, with the ModernBERT-style tokenizer (GPT-2's byte-level BPE).
func BenchmarkEncodeProse(b *testing.B) {
	tok := benchTokenizer(b)
	docs := makeProse(proseBytes, 1)
	size, tokens := 0, 0
	for _, d := range docs {
		size += len(d)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	cpu0 := processCPUSeconds()
	for i := 0; i < b.N; i++ {
		tokens = 0
		for _, d := range docs {
			tokens += len(tok.Encode(d, true))
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(size)/1e6/sec, "MB/s")
	b.ReportMetric(float64(tokens)/sec, "tokens/s")
	// The same per CPU second: what a shared, busy machine can still compare.
	if cpu := (processCPUSeconds() - cpu0) / float64(b.N); cpu > 0 {
		b.ReportMetric(float64(size)/1e6/cpu, "MB/cpu-s")
	}
}

// BenchmarkEncodeBatchProse is the same text through EncodeBatch, on all cores.
func BenchmarkEncodeBatchProse(b *testing.B) {
	tok := benchTokenizer(b)
	docs := makeProse(proseBytes, 1)
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	cpu0 := processCPUSeconds()
	for i := 0; i < b.N; i++ {
		tok.EncodeBatch(docs, true)
	}
	b.ReportMetric(float64(size)/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s")
	if cpu := (processCPUSeconds() - cpu0) / float64(b.N); cpu > 0 {
		b.ReportMetric(float64(size)/1e6/cpu, "MB/cpu-s")
	}
}

// BenchmarkLoadGPT2 reads GPT-2's tokenizer.json (50k tokens, 50k merges).
func BenchmarkLoadGPT2(b *testing.B) {
	data := readTestdata(b, "gpt2.json.gz")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := FromJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrain learns an 8k vocabulary from 5 MB of prose.
func BenchmarkTrain(b *testing.B) {
	docs := makeProse(5<<20, 2)
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Train(slices.Values(docs), TrainConfig{VocabSize: 8192}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s")
}
