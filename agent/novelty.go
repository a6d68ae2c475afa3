package agent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/dreamrl/dream/replay"
)

// noveltyGrid is the side of the grid frames are average-pooled to before
// hashing: a 32×32 frame becomes 8×8 blocks of 4×4 pixels, one block per
// cell of an 8×8 gridworld.
const noveltyGrid = 8

// novelty counts visits of observations by SimHash (Tang et al. 2017,
// "#Exploration"): an observation o, average-pooled to noveltyGrid ×
// noveltyGrid blocks per colour channel when it is a frame, and centred on
// the run's first observation o₀, gets the k-bit code
//
//	code(o) = sign(A (φ(o) − φ(o₀))),   A ∈ R^{k×D} with N(0, 1) entries,
//
// and the exploration bonus of reaching o is β/√n(code(o)), n being the
// number of observations with that code seen so far. Observations that
// differ only slightly share a code with high probability (the angle
// between φ(o) − φ(o₀) vectors decides it), so the counts generalise over
// continuous states; distinct gridworld cells get distinct codes unless k
// is small.
type novelty struct {
	bits   int
	frame  [3]int // frame height, width and channels; 0 for vectors
	pool   [2]int // block height and width
	dim    int    // D
	proj   []float32
	ref    []float32 // φ(o₀), nil until the first observation
	counts map[uint64]uint32
	feat   []float32
}

// newNovelty makes the hashing of observations of the buffer spec with
// bits-bit codes; A is drawn from rng.
func newNovelty(spec replay.Spec, bits int, rng *rand.Rand) *novelty {
	n := &novelty{bits: bits, counts: map[uint64]uint32{}}
	if spec.Frames() {
		h, w, ch := spec.FrameShape[0], spec.FrameShape[1], spec.FrameShape[2]
		gh, gw := min(noveltyGrid, h), min(noveltyGrid, w)
		n.frame = spec.FrameShape
		n.pool = [2]int{h / gh, w / gw}
		n.dim = gh * gw * ch
	} else {
		n.dim = spec.ObsDim
	}
	n.proj = make([]float32, bits*n.dim)
	for i := range n.proj {
		n.proj[i] = float32(rng.NormFloat64())
	}
	n.feat = make([]float32, n.dim)
	return n
}

// features writes φ(o) of one observation (a frame, H×W×C bytes, or a
// vector) into n.feat.
func (n *novelty) features(frame []uint8, vec []float32) []float32 {
	f := n.feat
	if frame == nil {
		copy(f, vec)
		return f
	}
	h, w, ch := n.frame[0], n.frame[1], n.frame[2]
	ph, pw := n.pool[0], n.pool[1]
	gh, gw := h/ph, w/pw
	clear(f)
	for y := 0; y < gh*ph; y++ {
		row := frame[y*w*ch:]
		for x := 0; x < gw*pw; x++ {
			o := ((y/ph)*gw + x/pw) * ch
			for k := 0; k < ch; k++ {
				f[o+k] += float32(row[ch*x+k])
			}
		}
	}
	scale := 1 / float32(255*ph*pw)
	for i := range f {
		f[i] *= scale
	}
	return f
}

// code is the SimHash code of one observation; the first observation
// seen becomes the reference o₀.
func (n *novelty) code(frame []uint8, vec []float32) uint64 {
	f := n.features(frame, vec)
	if n.ref == nil {
		n.ref = slices.Clone(f)
	}
	for i := range f {
		f[i] -= n.ref[i]
	}
	var c uint64
	for b := 0; b < n.bits; b++ {
		row := n.proj[b*n.dim : (b+1)*n.dim]
		var s float32
		for i, v := range f {
			s += row[i] * v
		}
		if s > 0 {
			c |= 1 << b
		}
	}
	return c
}

// observe counts one observation and returns its code.
func (n *novelty) observe(o replay.Obs) uint64 {
	c := n.code(o.Frame, o.Vector)
	n.counts[c]++
	return c
}

// bonus writes beta/√n(code(o')) for the next observation o' of every
// transition of batch b (K·B values, transition j of sequence i at
// j·B + i) into dst.
func (n *novelty) bonus(dst []float32, b *replay.Batch, beta float64) {
	obsLen := b.F * len(n.feat)
	if n.frame[0] > 0 {
		obsLen = b.F * n.frame[0] * n.frame[1] * n.frame[2]
	}
	last := obsLen / b.F // the newest of the F stacked observations
	for j := 0; j < b.K; j++ {
		for i := 0; i < b.B; i++ {
			row := (j+1)*b.B + i
			var c uint64
			if b.Frames != nil {
				c = n.code(b.Frames[row*obsLen+obsLen-last:(row+1)*obsLen], nil)
			} else {
				c = n.code(nil, b.Vectors[row*obsLen+obsLen-last:(row+1)*obsLen])
			}
			dst[j*b.B+i] = float32(beta / math.Sqrt(float64(max(n.counts[c], 1))))
		}
	}
}

// noveltyState is the part of novelty a checkpoint keeps: the reference
// and the counts, sorted by code.
type noveltyState struct {
	Ref    []float32 `json:"ref"`
	Codes  []uint64  `json:"codes"`
	Counts []uint32  `json:"counts"`
}

func (n *novelty) state() *noveltyState {
	s := &noveltyState{Ref: n.ref}
	for c := range n.counts {
		s.Codes = append(s.Codes, c)
	}
	slices.Sort(s.Codes)
	for _, c := range s.Codes {
		s.Counts = append(s.Counts, n.counts[c])
	}
	return s
}

func (n *novelty) restore(s *noveltyState) error {
	if s == nil {
		return fmt.Errorf("no visit counts (the run explores with a bonus)")
	}
	if s.Ref != nil && len(s.Ref) != n.dim || len(s.Codes) != len(s.Counts) {
		return fmt.Errorf("visit counts: reference of %d values (want %d), %d codes and %d counts", len(s.Ref), n.dim, len(s.Codes), len(s.Counts))
	}
	n.ref = s.Ref
	clear(n.counts)
	for i, c := range s.Codes {
		n.counts[c] = s.Counts[i]
	}
	return nil
}
