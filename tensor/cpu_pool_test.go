package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestPoolClassBoundsWaste(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{minPooled, minPooled + 1, 9216, 9217, 16384, 16385, 2048 * 4096}
	for range 1000 {
		sizes = append(sizes, minPooled+rng.IntN(1<<26))
	}
	for _, n := range sizes {
		c := poolClass(n)
		require.GreaterOrEqual(t, c, n)
		require.LessOrEqual(t, float64(c), 1.125*float64(n), "class %d for %d wastes more than 1/8", c, n)
		require.Equal(t, c, poolClass(c), "a class is its own class")
	}
}

// fillF32 sets every element of a CPU F32 tensor to v.
func fillF32(x *Tensor, v float32) {
	for i := range x.F32() {
		x.F32()[i] = v
	}
}

func TestFreedBufferComesBackZeroed(t *testing.T) {
	c := CPU()
	for _, dt := range []DType{F32, BF16, I32, I64} {
		a := c.New(dt, 3, minPooled)
		first, _ := fullSlice(a.data)
		switch s := a.data.(type) {
		case []float32:
			for i := range s {
				s[i] = 7
			}
		case []uint16:
			for i := range s {
				s[i] = 7
			}
		case []int32:
			for i := range s {
				s[i] = 7
			}
		case []int64:
			for i := range s {
				s[i] = 7
			}
		}
		a.Free()
		require.Nil(t, a.Data())
		// A slightly smaller tensor of the same class reuses the buffer.
		b := c.New(dt, 3*minPooled-5)
		again, _ := fullSlice(b.data)
		require.Equal(t, sliceAddr(first), sliceAddr(again), "%v: the freed buffer is reused", dt)
		require.Equal(t, 3*minPooled-5, b.Numel())
		switch s := b.data.(type) {
		case []float32:
			require.Len(t, s, b.Numel())
			for _, v := range s {
				require.Zero(t, v)
			}
		case []uint16:
			require.Len(t, s, b.Numel())
			for _, v := range s {
				require.Zero(t, v)
			}
		case []int32:
			require.Len(t, s, b.Numel())
			for _, v := range s {
				require.Zero(t, v)
			}
		case []int64:
			require.Len(t, s, b.Numel())
			for _, v := range s {
				require.Zero(t, v)
			}
		}
		b.Free()
	}
}

// sliceAddr is the address of a slice's first element.
func sliceAddr(s any) unsafe.Pointer {
	switch s := s.(type) {
	case []float32:
		return unsafe.Pointer((&s[0]))
	case []uint16:
		return unsafe.Pointer((&s[0]))
	case []int32:
		return unsafe.Pointer((&s[0]))
	case []int64:
		return unsafe.Pointer((&s[0]))
	}
	panic("sliceAddr")
}

// Only the tensor New returned gives its memory back: freeing a view or a
// tensor that wraps caller memory must leave that memory to its owner.
func TestFreeOfViewsAndWrappedSlicesKeepsMemory(t *testing.T) {
	c := CPU()
	parent := c.New(F32, 4, minPooled)
	fillF32(parent, 3)
	wrapped := FromF32(make([]float32, 4*minPooled), 4, minPooled)
	fillF32(wrapped, 5)
	keep := wrapped.F32()

	parent.Reshape(-1).Free()
	parent.Rows(0, 4).Free()
	parent.Rows(1, 3).Free()
	wrapped.Free()
	c.Free(wrapped) // directly through the backend: still nothing to give back

	for range 3 {
		fresh := c.New(F32, 4, minPooled)
		require.NotEqual(t, sliceAddr(parent.F32()), sliceAddr(fresh.F32()))
		require.NotEqual(t, sliceAddr(keep), sliceAddr(fresh.F32()))
		fillF32(fresh, -1)
	}
	for _, v := range parent.F32() {
		require.Equal(t, float32(3), v)
	}
	for _, v := range keep {
		require.Equal(t, float32(5), v)
	}
}

func TestDoubleFreeGivesBackOnce(t *testing.T) {
	c := CPU()
	a := c.New(F32, 2*minPooled)
	c.Free(a) // the backend's Free, then the Tensor's: one buffer, freed once
	a.Free()
	x, y := c.New(F32, 2*minPooled), c.New(F32, 2*minPooled)
	require.NotEqual(t, sliceAddr(x.F32()), sliceAddr(y.F32()))
}

func TestDebugPoisonFreedShowsStaleReads(t *testing.T) {
	was := DebugPoisonFreed(true)
	defer DebugPoisonFreed(was)
	c := CPU()
	for _, n := range []int{5, 3 * minPooled} { // pooled sizes and small ones alike
		a := c.New(F32, n)
		fillF32(a, 1)
		stale := a.Reshape(-1) // a view that outlives the Free: the bug to catch
		a.Free()
		for _, v := range stale.F32() {
			require.True(t, math.IsNaN(float64(v)))
		}
		b := c.New(F32, n) // never the poisoned buffer
		require.NotEqual(t, sliceAddr(stale.F32()), sliceAddr(b.F32()))
		require.True(t, math.IsNaN(float64(stale.F32()[n-1])))
	}
}

// A request whose class has no free buffer takes one of a larger class up
// to twice its size (zeroed, its length the request's), and none beyond.
func TestPoolServesFromLargerClass(t *testing.T) {
	c := CPU()
	a := c.New(F32, 1_500_001)
	first, _ := fullSlice(a.data)
	fillF32(a, 3)
	a.Free()
	b := c.New(F32, 900_001)
	again, _ := fullSlice(b.data)
	require.Equal(t, sliceAddr(first), sliceAddr(again), "the larger free buffer is reused")
	require.Len(t, b.F32(), 900_001)
	for _, v := range b.F32() {
		require.Zero(t, v)
	}
	b.Free()
	d := c.New(F32, 700_001) // the freed buffer is more than twice this
	other, class := fullSlice(d.data)
	require.NotEqual(t, sliceAddr(first), sliceAddr(other))
	require.Equal(t, poolClass(700_001), class)
	d.Free()
	e := c.New(F32, 1_500_001) // the freed buffer went back to its own class
	last, _ := fullSlice(e.data)
	require.Equal(t, sliceAddr(first), sliceAddr(last))
	e.Free()
}

// TestNewUninitSkipsOnlyTheZeroing: NewUninit hands out a recycled buffer as
// its last owner left it (the pass it saves), a fresh one zeroed, and its
// tensor goes back to the pool like New's; New after it zeroes again.
func TestNewUninitSkipsOnlyTheZeroing(t *testing.T) {
	c, ok := CPU().(UninitNewer)
	require.True(t, ok, "the CPU backend skips the zeroing")
	a := CPU().New(F32, 2, minPooled)
	fillF32(a, 7)
	first, _ := fullSlice(a.data)
	a.Free()
	b := c.NewUninit(F32, 2*minPooled-3)
	again, _ := fullSlice(b.data)
	require.Equal(t, unsafe.SliceData(first.([]float32)), unsafe.SliceData(again.([]float32)), "the freed buffer serves NewUninit")
	require.Len(t, b.F32(), 2*minPooled-3)
	for _, v := range b.F32() {
		require.Equal(t, float32(7), v)
	}
	b.Free()
	z := CPU().New(F32, 2*minPooled-3)
	fromPool, _ := fullSlice(z.data)
	require.Equal(t, unsafe.SliceData(first.([]float32)), unsafe.SliceData(fromPool.([]float32)), "NewUninit's tensor went back to the pool")
	for _, v := range z.F32() {
		require.Zero(t, v)
	}
	fresh := c.NewUninit(F32, 5*minPooled+1) // no buffer of that class is free
	for _, v := range fresh.F32() {
		require.Zero(t, v)
	}
}
