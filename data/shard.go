package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// A token shard is a file of token ids, written once and read many times:
//
//	offset  size  field
//	0       8     magic "DLLMTOKS"
//	8       2     version (1), little-endian like every field
//	10      1     bytes per token: 2 (uint16) or 4 (uint32)
//	11      1     flags: bit 0 set when the payload is zstd-compressed
//	12      4     vocabulary size: every id is below it
//	16      8     number of tokens
//	24      8     payload size in bytes
//	32      ...   payload: the ids, little-endian (or their zstd stream)
//
// Ids take two bytes when the vocabulary fits (at most 65536 ids), else four.
// An uncompressed shard is memory-mapped, so opening a large one costs nothing and
// its pages are shared with the OS cache; a compressed one is decoded into memory.
const (
	shardMagic      = "DLLMTOKS"
	shardVersion    = 1
	shardHeaderSize = 32
	shardFlagZstd   = 1
)

// ShardOptions says how to write a shard.
type ShardOptions struct {
	// VocabSize bounds the ids (each must be in [0, VocabSize)) and picks the
	// width: two bytes for a vocabulary of at most 65536 ids, four otherwise.
	VocabSize int
	// Compress stores the payload as zstd: smaller, but read into memory.
	Compress bool
}

// tokenWidth is the bytes per token for a vocabulary.
func tokenWidth(vocab int) int {
	if vocab <= 1<<16 {
		return 2
	}
	return 4
}

// WriteShard writes tokens to path atomically (temp file, fsync, rename).
func WriteShard(path string, tokens []int32, opts ShardOptions) error {
	if opts.VocabSize < 1 || int64(opts.VocabSize) > math.MaxUint32 {
		return fmt.Errorf("shard %s: vocabulary size %d out of range", path, opts.VocabSize)
	}
	width := tokenWidth(opts.VocabSize)
	payload := make([]byte, len(tokens)*width)
	for i, id := range tokens {
		if id < 0 || int(id) >= opts.VocabSize {
			return fmt.Errorf("shard %s: token %d is id %d, outside the vocabulary of %d", path, i, id, opts.VocabSize)
		}
		if width == 2 {
			binary.LittleEndian.PutUint16(payload[2*i:], uint16(id))
		} else {
			binary.LittleEndian.PutUint32(payload[4*i:], uint32(id))
		}
	}
	var flags byte
	if opts.Compress {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return err
		}
		payload = enc.EncodeAll(payload, nil)
		enc.Close()
		flags |= shardFlagZstd
	}
	head := make([]byte, shardHeaderSize)
	copy(head, shardMagic)
	binary.LittleEndian.PutUint16(head[8:], shardVersion)
	head[10] = byte(width)
	head[11] = flags
	binary.LittleEndian.PutUint32(head[12:], uint32(opts.VocabSize))
	binary.LittleEndian.PutUint64(head[16:], uint64(len(tokens)))
	binary.LittleEndian.PutUint64(head[24:], uint64(len(payload)))
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write(head); err != nil {
			return err
		}
		_, err := w.Write(payload)
		return err
	})
}

// Shard is an open token shard. Its methods may be called from several
// goroutines at once; Close must come after all of them.
type Shard struct {
	path  string
	width int
	vocab int
	n     int
	data  []byte // the payload, mapped or decoded
	// release unmaps the file (nil for a decoded payload).
	release func() error
}

// OpenShard opens a shard and checks it: header, size, and that every id is
// inside the vocabulary (so a damaged file cannot index past an embedding table).
func OpenShard(path string) (*Shard, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("shard %s: %s", path, fmt.Sprintf(format, args...))
	}
	head := make([]byte, shardHeaderSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, bad("too short for a shard header (%v)", err)
	}
	if string(head[:8]) != shardMagic {
		return nil, bad("not a token shard (magic %q)", head[:8])
	}
	if v := binary.LittleEndian.Uint16(head[8:]); v != shardVersion {
		return nil, bad("format version %d; this build reads version %d", v, shardVersion)
	}
	s := &Shard{
		path:  path,
		width: int(head[10]),
		vocab: int(binary.LittleEndian.Uint32(head[12:])),
	}
	flags := head[11]
	count := binary.LittleEndian.Uint64(head[16:])
	payloadSize := binary.LittleEndian.Uint64(head[24:])
	switch {
	case s.width != 2 && s.width != 4:
		return nil, bad("%d bytes per token; want 2 or 4", s.width)
	case flags&^shardFlagZstd != 0:
		return nil, bad("unknown flags %#x", flags)
	case s.vocab < 1:
		return nil, bad("vocabulary size 0")
	case s.width == 2 && s.vocab > 1<<16:
		return nil, bad("vocabulary of %d does not fit two-byte ids", s.vocab)
	case count > math.MaxInt/4:
		return nil, bad("token count %d too large", count)
	}
	s.n = int(count)
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if want := shardHeaderSize + payloadSize; uint64(info.Size()) != want {
		return nil, bad("file is %d bytes; its header says %d (truncated or damaged)", info.Size(), want)
	}
	if flags&shardFlagZstd != 0 {
		if err := s.decode(f, payloadSize); err != nil {
			return nil, bad("%v", err)
		}
	} else {
		if payloadSize != count*uint64(s.width) {
			return nil, bad("payload is %d bytes for %d tokens of %d bytes", payloadSize, count, s.width)
		}
		mapped, release, err := mapFile(f, int(info.Size()))
		if err != nil {
			return nil, bad("map: %v", err)
		}
		s.data, s.release = mapped[shardHeaderSize:], release
	}
	if err := s.checkIDs(); err != nil {
		s.Close()
		return nil, bad("%v", err)
	}
	return s, nil
}

// decode reads and decompresses a zstd payload.
func (s *Shard) decode(f *os.File, size uint64) error {
	comp := make([]byte, size)
	if _, err := io.ReadFull(f, comp); err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer dec.Close()
	want := s.n * s.width
	s.data, err = dec.DecodeAll(comp, make([]byte, 0, want))
	if err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	if len(s.data) != want {
		return fmt.Errorf("payload decodes to %d bytes for %d tokens of %d bytes", len(s.data), s.n, s.width)
	}
	return nil
}

// checkIDs verifies that every id is below the vocabulary size; skipped when the
// width cannot even hold a larger id.
func (s *Shard) checkIDs() error {
	if s.width == 2 && s.vocab == 1<<16 {
		return nil
	}
	for i := range s.n {
		if id := s.at(i); int64(id) >= int64(s.vocab) || id < 0 {
			return fmt.Errorf("token %d is id %d, outside the vocabulary of %d", i, uint32(id), s.vocab)
		}
	}
	return nil
}

func (s *Shard) at(i int) int32 {
	if s.width == 2 {
		return int32(binary.LittleEndian.Uint16(s.data[2*i:]))
	}
	return int32(binary.LittleEndian.Uint32(s.data[4*i:]))
}

// Len is the number of tokens.
func (s *Shard) Len() int { return s.n }

// VocabSize is the vocabulary size recorded when the shard was written.
func (s *Shard) VocabSize() int { return s.vocab }

// BytesPerToken is 2 or 4.
func (s *Shard) BytesPerToken() int { return s.width }

// Path is the file the shard was opened from.
func (s *Shard) Path() string { return s.path }

// Append appends the tokens [lo, hi) to dst and returns it. It panics when the
// range is outside [0, Len()], as slicing does.
func (s *Shard) Append(dst []int32, lo, hi int) []int32 {
	if lo < 0 || hi > s.n || lo > hi {
		panic(fmt.Sprintf("data: shard range [%d, %d) outside [0, %d)", lo, hi, s.n))
	}
	if s.width == 2 {
		b := s.data[2*lo : 2*hi]
		for i := 0; i < len(b); i += 2 {
			dst = append(dst, int32(binary.LittleEndian.Uint16(b[i:])))
		}
		return dst
	}
	b := s.data[4*lo : 4*hi]
	for i := 0; i < len(b); i += 4 {
		dst = append(dst, int32(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst
}

// Close releases the mapping; the shard must not be used afterwards.
func (s *Shard) Close() error {
	s.data = nil
	if s.release == nil {
		return nil
	}
	release := s.release
	s.release = nil
	return release()
}

// ShardSet reads several shards as one set of pretraining rows. A row never
// crosses from one shard into the next, so each shard's last partial row is
// left out.
type ShardSet struct {
	shards []*Shard
}

// OpenShards opens every path as a shard.
func OpenShards(paths []string) (*ShardSet, error) {
	if len(paths) == 0 {
		return nil, errors.New("no shard paths given")
	}
	set := &ShardSet{}
	for _, p := range paths {
		s, err := OpenShard(p)
		if err != nil {
			set.Close()
			return nil, err
		}
		set.shards = append(set.shards, s)
	}
	return set, nil
}

// Shards returns the open shards.
func (set *ShardSet) Shards() []*Shard { return set.shards }

// Tokens is the number of tokens over all shards.
func (set *ShardSet) Tokens() int {
	n := 0
	for _, s := range set.shards {
		n += s.Len()
	}
	return n
}

// Rows is the number of whole rows of seqLen tokens.
func (set *ShardSet) Rows(seqLen int) int {
	n := 0
	for _, s := range set.shards {
		n += s.Len() / seqLen
	}
	return n
}

// Row appends row k of seqLen tokens to dst and returns it. Rows are numbered
// through the shards in order; k must be below Rows(seqLen).
func (set *ShardSet) Row(dst []int32, k, seqLen int) []int32 {
	for _, s := range set.shards {
		r := s.Len() / seqLen
		if k < r {
			return s.Append(dst, k*seqLen, (k+1)*seqLen)
		}
		k -= r
	}
	panic(fmt.Sprintf("data: row %d past the end of the shard set", k))
}

// Close closes every shard.
func (set *ShardSet) Close() error {
	var errs []error
	for _, s := range set.shards {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// TokenizeCorpus encodes the documents of a corpus (see EachDocument) into one
// stream, each document followed by sep (negative: none): the input of
// WriteShard and Pack's equivalent for shards.
func TokenizeCorpus(enc Encoder, paths []string, sep int, opts LoadOptions) ([]int32, LoadStats, error) {
	var stream []int32
	st, err := EachDocument(paths, opts, func(d Document) error {
		stream = AppendDocument(stream, enc.Encode(d.Text, false), sep)
		return nil
	})
	return stream, st, err
}
