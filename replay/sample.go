package replay

import (
	"fmt"
	"math/rand/v2"
)

// Batch is a batch of B training sequences, each of K+1 observations and
// the K transitions between them, with F stacked frames per observation.
//
// Layouts are time-major; t indexes time (0…K), b the sequence (0…B−1),
// f the stacked frame (0…F−1, oldest first: f = F−1 is the observation at
// time t itself, f = F−2 its predecessor, and so on; at the start of an
// episode the first observation is repeated):
//
//	Frames or Vectors  (K+1)×B×F×ObsLen   element ((t·B + b)·F + f)·ObsLen + i
//	Actions            K×B×ActionDim      element (t·B + b)·ActionDim + j
//	Rewards            K×B                element t·B + b
//	Terminated         K×B                1 if transition t ended in a terminal state, else 0
//	Truncated          K×B                1 if transition t hit a time limit, else 0
//
// Transition t leads from observation t to observation t+1. A sequence
// lies within one episode, so no mask is needed: only its last transition
// can be terminated or truncated.
type Batch struct {
	B, K, F int
	// Frames holds frame observations (nil for a vector Spec).
	Frames []uint8
	// Vectors holds vector observations (nil for a frame Spec).
	Vectors    []float32
	Actions    []float32
	Rewards    []float32
	Terminated []float32
	Truncated  []float32

	spec Spec
}

// NewBatch allocates a batch of b sequences of k transitions (k+1
// observations) with f stacked frames, for buffers of the given spec. It
// panics on an invalid spec or b < 1, k < 0, f < 1.
func NewBatch(spec Spec, b, k, f int) *Batch {
	if err := spec.Validate(); err != nil {
		panic("replay: NewBatch: " + err.Error())
	}
	if b < 1 || k < 0 || f < 1 {
		panic(fmt.Sprintf("replay: NewBatch with B=%d, K=%d, F=%d (want B ≥ 1, K ≥ 0, F ≥ 1)", b, k, f))
	}
	d := &Batch{
		B: b, K: k, F: f, spec: spec,
		Actions:    make([]float32, k*b*spec.ActionDim),
		Rewards:    make([]float32, k*b),
		Terminated: make([]float32, k*b),
		Truncated:  make([]float32, k*b),
	}
	n := (k + 1) * b * f * spec.ObsLen()
	if spec.Frames() {
		d.Frames = make([]uint8, n)
	} else {
		d.Vectors = make([]float32, n)
	}
	return d
}

// index is the set of valid sequence starts for one (k, F): slots s whose
// steps s−p…s+k lie in one episode and are all held, p being min(F−1, the
// step index of s). starts lists the set; pos[s] is s's position in starts
// or −1, so adding and removing are O(1) and a uniform draw is one index.
type index struct {
	k, f   int
	pos    []int32
	starts []int32
}

// valid reports whether a sequence of k transitions with f stacked frames
// can start at slot s.
func (b *Buffer) valid(s, k, f int) bool {
	if s >= b.used || k >= b.capacity {
		return false
	}
	ep, t := b.id(s)
	if ep == 0 {
		return false
	}
	if k > 0 {
		u := (s + k) % b.capacity
		if u >= b.used {
			return false
		}
		if e, tu := b.id(u); e != ep || tu != t+uint64(k) {
			return false
		}
	}
	p := uint64(f - 1)
	if t < p {
		p = t
	}
	if p == 0 {
		return true
	}
	if k+int(p) >= b.capacity {
		return false
	}
	v := s - int(p)
	if v < 0 {
		v += b.capacity
	}
	if v >= b.used {
		return false
	}
	e, tv := b.id(v)
	return e == ep && tv == t-p
}

// update re-checks slot u's membership in ix.
func (b *Buffer) update(ix *index, u int) {
	for len(ix.pos) <= u {
		ix.pos = append(ix.pos, -1)
	}
	ok := b.valid(u, ix.k, ix.f)
	p := ix.pos[u]
	switch {
	case ok && p < 0:
		ix.pos[u] = int32(len(ix.starts))
		ix.starts = append(ix.starts, int32(u))
	case !ok && p >= 0:
		last := ix.starts[len(ix.starts)-1]
		ix.starts[p] = last
		ix.pos[last] = p
		ix.starts = ix.starts[:len(ix.starts)-1]
		ix.pos[u] = -1
	}
}

// touch updates ix after slot w was written. A start s depends on the
// slots s−p…s+k, so only starts in w−k…w+F−1 can change; of those before
// w, only w−k can become valid (the others still lack their last step).
func (b *Buffer) touch(ix *index, w int) {
	for j := range ix.f {
		if u := (w + j) % b.capacity; u < b.used {
			b.update(ix, u)
		}
	}
	if ix.k > 0 && ix.k < b.capacity {
		u := w - ix.k
		if u < 0 {
			u += b.capacity
		}
		if u < b.used {
			b.update(ix, u)
		}
	}
}

// index returns the set of valid starts for (k, f), building it on first
// use; it is kept up to date by every later write.
func (b *Buffer) index(k, f int) *index {
	for _, ix := range b.indexes {
		if ix.k == k && ix.f == f {
			return ix
		}
	}
	ix := &index{k: k, f: f}
	for u := range b.used {
		b.update(ix, u)
	}
	b.indexes = append(b.indexes, ix)
	return ix
}

// Sequences is the number of distinct sequences of k transitions with f
// stacked frames that Sample can return now.
func (b *Buffer) Sequences(k, f int) int {
	if k < 0 || f < 1 {
		panic(fmt.Sprintf("replay: Sequences with k=%d, f=%d (want k ≥ 0, f ≥ 1)", k, f))
	}
	return len(b.index(k, f).starts)
}

// Sample fills dst with dst.B sequences drawn independently and uniformly
// (with replacement) from the valid start positions: every held run of
// dst.K+1 consecutive observations of one episode whose dst.F−1 stacking
// predecessors are held too (or that begins at most F−1 steps after the
// episode's first observation, which is then repeated). A sequence may end
// with a terminated or truncated transition but never extends past one,
// never crosses into another episode and never touches an overwritten
// step; sequences from the episode being written are included up to its
// last appended step.
//
// It returns ErrEmpty when no such sequence exists yet. The first call for
// a new (K, F) scans the buffer once and allocates the set of valid
// starts; later calls allocate nothing. It panics when dst was made for
// another Spec.
func (b *Buffer) Sample(rng *rand.Rand, dst *Batch) error {
	if dst.spec != b.spec {
		panic(fmt.Sprintf("replay: Sample into a batch for spec %+v, buffer has %+v", dst.spec, b.spec))
	}
	ix := b.index(dst.K, dst.F)
	n := len(ix.starts)
	if n == 0 {
		return ErrEmpty
	}
	for i := range dst.B {
		b.gather(dst, i, int(ix.starts[rng.IntN(n)]))
	}
	return nil
}

// gather copies the sequence starting at slot s into row i of dst.
func (b *Buffer) gather(dst *Batch, i, s int) {
	_, t0 := b.id(s)
	l, a, bs, f := b.obsLen, b.spec.ActionDim, dst.B, dst.F
	for j := 0; j <= dst.K; j++ {
		u := (s + j) % b.capacity
		t := t0 + uint64(j)
		for g := range f {
			back := uint64(f - 1 - g)
			if back > t {
				back = t
			}
			v := u - int(back)
			if v < 0 {
				v += b.capacity
			}
			c, ci := b.slot(v)
			o := ((j*bs+i)*f + g) * l
			if b.spec.Frames() {
				copy(dst.Frames[o:o+l], c.frames[ci*l:(ci+1)*l])
			} else {
				copy(dst.Vectors[o:o+l], c.vectors[ci*l:(ci+1)*l])
			}
		}
		if j == dst.K {
			break
		}
		c, ci := b.slot(u)
		r := j*bs + i
		copy(dst.Actions[r*a:(r+1)*a], c.actions[ci*a:(ci+1)*a])
		dst.Rewards[r] = c.rewards[ci]
		dst.Terminated[r] = float32(c.flags[ci] & flagTerminated)
		dst.Truncated[r] = float32((c.flags[ci] & flagTruncated) >> 1)
	}
}
