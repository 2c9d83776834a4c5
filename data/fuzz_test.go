package data

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// FuzzChatJSONL reads any bytes as a chat file, plain, gzip or zstd (go
// test -fuzz FuzzChatJSONL ./data; the seeds in testdata/fuzz/FuzzChatJSONL,
// compressed ones among them, run as a plain test). A file gives valid
// conversations or a one-line error naming the file and line; with SkipBad,
// every non-blank line is either a record or counted as skipped; and the
// same text gzip- or zstd-compressed reads the same.
func FuzzChatJSONL(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		const name = "train.jsonl"
		plain, plainErr := readChat(file, name, LoadOptions{})
		if plainErr != nil {
			msg := plainErr.Error()
			require.NotContains(t, msg, "\n", "an error of more than one line")
			require.True(t, strings.HasPrefix(msg, name+":") || strings.HasPrefix(msg, "gzip") || strings.HasPrefix(msg, "zstd"), "error %q names no file", msg)
		}
		for _, c := range plain {
			require.NoError(t, ValidateConversation(c.Messages))
			_, err := BertChatTemplate{}.Render(c.Messages, false)
			require.NoError(t, err)
		}
		if bytes.HasPrefix(file, gzipMagic) || bytes.HasPrefix(file, zstdMagic) {
			return // a compressed stream: its text is not what the rest checks
		}
		var skipped LoadStats
		r, _, err := decompress(bytes.NewReader(file))
		require.NoError(t, err)
		skipped, err = ReadChatJSONL(r, name, LoadOptions{SkipBad: true}, func(Conversation) error { return nil })
		require.NoError(t, err)
		lines := 0
		for _, l := range bytes.Split(file, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		require.Equal(t, lines, skipped.Records+skipped.Skipped)
		if plainErr == nil {
			require.Equal(t, len(plain), skipped.Records)
		}
		for _, z := range []struct {
			name     string
			compress func([]byte) []byte
		}{{"gzip", gzipBytes}, {"zstd", zstdBytes}} {
			got, err := readChat(z.compress(file), name, LoadOptions{})
			require.Equal(t, plainErr == nil, err == nil, "%s: %v, plain: %v", z.name, err, plainErr)
			require.Equal(t, plain, got, z.name)
		}
	})
}

func readChat(file []byte, name string, opts LoadOptions) ([]Conversation, error) {
	r, closeDec, err := decompress(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	defer closeDec()
	var out []Conversation
	_, err = ReadChatJSONL(r, name, opts, func(c Conversation) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// zstdEncoder is made once: EncodeAll may be called concurrently, and a
// new encoder per input slowed the fuzzer tenfold.
var zstdEncoder, _ = zstd.NewWriter(nil)

func zstdBytes(b []byte) []byte { return zstdEncoder.EncodeAll(b, nil) }
