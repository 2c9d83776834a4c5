package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// The first bytes of a gzip and a zstd stream.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Open opens a file for reading and decompresses gzip and zstd transparently.
// The compression is recognised by the stream's magic bytes, not the file name,
// so a misnamed file still reads correctly.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, closeDec, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &decompressedFile{Reader: r, closeDec: closeDec, f: f}, nil
}

// decompress wraps r in the decompressor its first bytes call for.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(4) // a short file is simply not compressed
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

type decompressedFile struct {
	io.Reader
	closeDec func()
	f        *os.File
}

func (d *decompressedFile) Close() error {
	d.closeDec()
	return d.f.Close()
}

// baseName strips a compression suffix, so "train.jsonl.zst" reads as "train.jsonl".
func baseName(path string) string {
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		if s, ok := strings.CutSuffix(path, ext); ok {
			return s
		}
	}
	return path
}

// hasExt reports whether path, compression suffix aside, ends in one of exts.
func hasExt(path string, exts ...string) bool {
	p := strings.ToLower(baseName(path))
	for _, e := range exts {
		if strings.HasSuffix(p, e) {
			return true
		}
	}
	return false
}
