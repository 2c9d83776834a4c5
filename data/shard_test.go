package data

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomTokens(rng *rand.Rand, n, vocab int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(rng.IntN(vocab))
	}
	if n > 1 {
		t[0], t[1] = 0, int32(vocab-1) // the edges of the range
	}
	return t
}

func TestShardRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	cases := []struct {
		vocab    int
		compress bool
		width    int
	}{
		{300, false, 2},
		{1 << 16, false, 2}, // the largest vocabulary of two-byte ids
		{1<<16 + 1, false, 4},
		{50368, true, 2}, // ModernBERT's vocabulary
		{200000, true, 4},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(fmt.Sprintf("vocab=%d zstd=%v", c.vocab, c.compress), func(t *testing.T) {
			tokens := randomTokens(rng, 1000+rng.IntN(5000), c.vocab)
			path := filepath.Join(dir, fmt.Sprintf("s%d%v.tok", c.vocab, c.compress))
			require.NoError(t, WriteShard(path, tokens, ShardOptions{VocabSize: c.vocab, Compress: c.compress}))
			info, err := os.Stat(path)
			require.NoError(t, err)
			if !c.compress {
				assert.EqualValues(t, shardHeaderSize+len(tokens)*c.width, info.Size())
			}

			s, err := OpenShard(path)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, len(tokens), s.Len())
			assert.Equal(t, c.vocab, s.VocabSize())
			assert.Equal(t, c.width, s.BytesPerToken())
			assert.Equal(t, tokens, s.Append(nil, 0, s.Len()))
			for range 20 {
				lo := rng.IntN(len(tokens))
				hi := lo + rng.IntN(len(tokens)-lo+1)
				require.Equal(t, tokens[lo:hi], s.Append(make([]int32, 0, 4), lo, hi)[0:hi-lo])
			}
			assert.Panics(t, func() { s.Append(nil, 0, s.Len()+1) })
		})
	}
}

func TestShardCompressionShrinksRepetitiveData(t *testing.T) {
	tokens := make([]int32, 20000)
	for i := range tokens {
		tokens[i] = int32(i % 50)
	}
	dir := t.TempDir()
	raw, comp := filepath.Join(dir, "raw.tok"), filepath.Join(dir, "comp.tok")
	require.NoError(t, WriteShard(raw, tokens, ShardOptions{VocabSize: 100}))
	require.NoError(t, WriteShard(comp, tokens, ShardOptions{VocabSize: 100, Compress: true}))
	a, _ := os.Stat(raw)
	b, _ := os.Stat(comp)
	assert.Less(t, b.Size()*10, a.Size())
}

func TestEmptyShard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.tok")
	require.NoError(t, WriteShard(path, nil, ShardOptions{VocabSize: 10}))
	s, err := OpenShard(path)
	require.NoError(t, err)
	assert.Zero(t, s.Len())
	assert.Empty(t, s.Append(nil, 0, 0))
	require.NoError(t, s.Close())
}

func TestWriteShardRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.tok")
	assert.ErrorContains(t, WriteShard(path, []int32{1, 2, 10}, ShardOptions{VocabSize: 10}), "token 2 is id 10")
	assert.ErrorContains(t, WriteShard(path, []int32{-1}, ShardOptions{VocabSize: 10}), "id -1")
	assert.ErrorContains(t, WriteShard(path, []int32{1}, ShardOptions{}), "vocabulary size 0")
	_, err := os.Stat(path)
	assert.True(t, os.IsNotExist(err), "a refused shard leaves no file")
}

func TestOpenShardRejectsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tok")
	goodZ := filepath.Join(dir, "goodz.tok")
	tokens := randomTokens(rng, 500, 1000)
	require.NoError(t, WriteShard(good, tokens, ShardOptions{VocabSize: 1000}))
	require.NoError(t, WriteShard(goodZ, tokens, ShardOptions{VocabSize: 1000, Compress: true}))
	raw, err := os.ReadFile(good)
	require.NoError(t, err)
	rawZ, err := os.ReadFile(goodZ)
	require.NoError(t, err)

	edit := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	cases := []struct {
		name string
		file []byte
		msg  string
	}{
		{"short", raw[:10], "too short"},
		{"magic", edit(raw, func(b []byte) []byte { b[0] = 'X'; return b }), "not a token shard"},
		{"version", edit(raw, func(b []byte) []byte { b[8] = 9; return b }), "format version 9"},
		{"width", edit(raw, func(b []byte) []byte { b[10] = 3; return b }), "3 bytes per token"},
		{"flags", edit(raw, func(b []byte) []byte { b[11] = 6; return b }), "unknown flags"},
		{"truncated", raw[:len(raw)-2], "truncated or damaged"},
		{"count", edit(raw, func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 499); return b }), "payload is 1000 bytes for 499 tokens"},
		{"id out of vocabulary", edit(raw, func(b []byte) []byte { binary.LittleEndian.PutUint16(b[shardHeaderSize+2*7:], 1000); return b }), "token 7 is id 1000"},
		{"vocab too large for width", edit(raw, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<17); return b }), "does not fit two-byte ids"},
		{"zstd garbage", edit(rawZ, func(b []byte) []byte {
			for i := shardHeaderSize + 4; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			return b
		}), "zstd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".tok")
			require.NoError(t, os.WriteFile(path, c.file, 0o644))
			_, err := OpenShard(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestShardSetRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	dir := t.TempDir()
	const seqLen = 16
	var paths []string
	var want [][]int32
	for i := range 3 {
		tokens := randomTokens(rng, 100+rng.IntN(200), 500)
		p := filepath.Join(dir, fmt.Sprintf("%d.tok", i))
		require.NoError(t, WriteShard(p, tokens, ShardOptions{VocabSize: 500, Compress: i == 1}))
		paths = append(paths, p)
		for lo := 0; lo+seqLen <= len(tokens); lo += seqLen {
			want = append(want, tokens[lo:lo+seqLen])
		}
	}
	set, err := OpenShards(paths)
	require.NoError(t, err)
	defer set.Close()
	require.Equal(t, len(want), set.Rows(seqLen))
	for k := range want {
		require.Equal(t, want[k], set.Row(nil, k, seqLen), "row %d", k)
	}
	assert.Panics(t, func() { set.Row(nil, len(want), seqLen) })

	_, err = OpenShards(append(paths, filepath.Join(dir, "missing.tok")))
	assert.Error(t, err)
}

func TestTokenizeCorpusThenShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	dir := t.TempDir()
	texts := []string{randomText(rng, 30), randomText(rng, 40)}
	writeFile(t, filepath.Join(dir, "a.txt"), []byte(texts[0]))
	writeFile(t, filepath.Join(dir, "b.txt.zst"), compress(t, []byte(texts[1]), "zst"))
	stream, st, err := TokenizeCorpus(byteEncoder{}, []string{dir}, testPad, LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Records)
	want := AppendDocument(AppendDocument(nil, byteEncoder{}.Encode(texts[0], false), testPad), byteEncoder{}.Encode(texts[1], false), testPad)
	require.Equal(t, want, stream)

	path := filepath.Join(dir, "corpus.tok")
	require.NoError(t, WriteShard(path, stream, ShardOptions{VocabSize: 256 + byteBase}))
	set, err := OpenShards([]string{path})
	require.NoError(t, err)
	defer set.Close()
	rows := Pack([][]int{byteEncoder{}.Encode(texts[0], false), byteEncoder{}.Encode(texts[1], false)}, 8, testPad)
	require.Equal(t, len(rows), set.Rows(8))
	for k, r := range rows {
		assert.Equal(t, r, set.Row(nil, k, 8), "a shard's rows are the packer's rows")
	}
}

func BenchmarkShardRead(b *testing.B) {
	for _, vocab := range []int{50368, 200000} {
		b.Run(fmt.Sprintf("vocab=%d", vocab), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			tokens := randomTokens(rng, 1<<20, vocab)
			path := filepath.Join(b.TempDir(), "bench.tok")
			require.NoError(b, WriteShard(path, tokens, ShardOptions{VocabSize: vocab}))
			s, err := OpenShard(path)
			require.NoError(b, err)
			defer s.Close()
			const seqLen = 1024
			dst := make([]int32, 0, seqLen)
			rows := s.Len() / seqLen
			b.ResetTimer()
			for i := range b.N {
				k := i % rows
				dst = s.Append(dst[:0], k*seqLen, (k+1)*seqLen)
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)*seqLen/sec, "tokens/s")
			b.ReportMetric(float64(b.N)*seqLen*float64(s.BytesPerToken())/sec/1e9, "GB/s")
		})
	}
}
