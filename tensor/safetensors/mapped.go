package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
)

// Memory-mapped files, for weights that stay in memory as stored.
//
// Map opens a file like Open but maps its tensor data into memory instead of
// reading it: nothing is read until used, the pages are the kernel's page
// cache (shared with every process mapping the file), and a BF16 tensor can
// be used in place (BF16Bits) with no copy at all. Tensors that must be
// copied anyway (into a larger tensor, say) are read with pread (ReadBF16),
// which does not touch the mapping, so their pages never count twice in the
// process's resident memory.
//
// A mapping lives as long as the process: slices returned by Raw and
// BF16Bits alias it, and nothing tracks them, so it is never unmapped. The
// file must not be truncated while the process runs (a read of the missing
// pages would fault). Where mapping is not available (other systems, the
// purego build) Map reads the file as Open does.

// MapModel is OpenModel with every file opened by Map.
func MapModel(dir string) (*Model, error) { return openModel(dir, Map) }

// Map opens and validates the safetensors file at path, its tensor data
// memory-mapped (see above).
func Map(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, &FormatError{path, "not a regular file"}
	}
	f, err := mapFile(fh, st.Size())
	if err != nil {
		fh.Close()
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Path = path
			return nil, fe
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.path = path
	return f, nil
}

// mapFile parses the header of the open file fh of size bytes and maps its
// data; the File keeps fh for ReadBF16.
func mapFile(fh *os.File, size int64) (*File, error) {
	var prefix [8]byte
	if size < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length", size)
	}
	if _, err := io.ReadFull(fh, prefix[:]); err != nil {
		return nil, err
	}
	n, err := headerLen(binary.LittleEndian.Uint64(prefix[:]), uint64(size))
	if err != nil {
		return nil, err
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(fh, header); err != nil {
		return nil, err
	}
	dataLen := int(size) - 8 - n
	f, err := parseHeader(header, dataLen)
	if err != nil {
		return nil, err
	}
	whole, err := mapReadOnly(fh, int(size))
	if err != nil {
		return nil, err
	}
	if whole == nil { // no mapping on this system: read the data
		f.data = make([]byte, dataLen)
		if _, err := io.ReadFull(fh, f.data); err != nil {
			return nil, fmt.Errorf("reading tensor data: %w", err)
		}
		fh.Close()
		return f, nil
	}
	f.data = whole[8+n : 8+n+dataLen : 8+n+dataLen]
	f.fh, f.dataStart, f.mapped = fh, int64(8+n), true
	return f, nil
}

// Mapped reports whether the file's data is memory-mapped.
func (f *File) Mapped() bool { return f.mapped }

// BF16Bits returns the BF16 tensor called name in place: its bits aliasing
// the mapping, with its shape. ok is false when the file is not mapped, the
// tensor is not BF16 or not aligned to 2 bytes in memory, or this machine is
// not little-endian: then ReadBF16 copies it.
func (f *File) BF16Bits(name string) (bits []uint16, shape []int, ok bool) {
	t, has := f.tensors[name]
	if !has || !f.mapped || t.DType != BF16 || !littleEndian {
		return nil, nil, false
	}
	raw := f.data[t.Offset : t.Offset+t.Bytes]
	n := t.Bytes / 2
	if n == 0 {
		return []uint16{}, append([]int(nil), t.Shape...), true
	}
	if uintptr(unsafe.Pointer(&raw[0]))%2 != 0 {
		return nil, nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&raw[0])), n), append([]int(nil), t.Shape...), true
}

// ReadBF16 fills dst with the tensor called name as bfloat16 bits and
// returns its shape. A BF16 tensor is read straight into dst (with pread
// when the file is mapped, not through the mapping); other float dtypes are
// converted and rounded to nearest even. dst must hold exactly the tensor's
// elements.
func (f *File) ReadBF16(name string, dst []uint16) ([]int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w: %q", f.where(), ErrNotFound, name)
	}
	shape := append([]int(nil), t.Shape...)
	if len(dst) != t.NumElements() {
		return nil, fmt.Errorf("%s: tensor %q has %d elements, %d asked for", f.where(), name, t.NumElements(), len(dst))
	}
	if t.DType != BF16 {
		// Read with pread when mapped, so that a wider file's pages do not
		// become resident through the mapping.
		raw := f.data[t.Offset : t.Offset+t.Bytes]
		if f.fh != nil {
			raw = make([]byte, t.Bytes)
			if _, err := f.fh.ReadAt(raw, f.dataStart+int64(t.Offset)); err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
			}
		}
		v, err := DecodeF32(t.DType, raw)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
		}
		for i, x := range v {
			dst[i] = F32ToBF16(x)
		}
		return shape, nil
	}
	if len(dst) == 0 {
		return shape, nil
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 2*len(dst))
	if f.fh != nil {
		if _, err := f.fh.ReadAt(buf, f.dataStart+int64(t.Offset)); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
		}
	} else {
		copy(buf, f.data[t.Offset:t.Offset+t.Bytes])
	}
	if !littleEndian {
		for i := range dst {
			b := buf[2*i : 2*i+2]
			dst[i] = binary.LittleEndian.Uint16(b)
		}
	}
	return shape, nil
}

// littleEndian: safetensors stores little-endian, which a BF16 tensor can be
// used in place on.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// BF16Bits is File.BF16Bits for the file holding name.
func (m *Model) BF16Bits(name string) ([]uint16, []int, bool) {
	if f, ok := m.where[name]; ok {
		return f.BF16Bits(name)
	}
	return nil, nil, false
}

// ReadBF16 is File.ReadBF16 for the file holding name.
func (m *Model) ReadBF16(name string, dst []uint16) ([]int, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, err
	}
	return f.ReadBF16(name, dst)
}
