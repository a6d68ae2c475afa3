// Package replay stores an agent's experience and samples training
// sequences from it.
//
// A Buffer is a ring of Cap steps. A step holds one observation and the
// transition that leaves it (action, reward, terminated, truncated). An
// episode of T transitions holds T+1 observations and so takes T+1 steps:
// its last observation is stored once, as a step without a transition.
// Each observation is thus stored once, not twice per transition, as in
// DreamerV3's replay (Hafner et al. 2023, embodied/replay).
//
// Episodes are written with StartEpisode, which stores the first
// observation, and Append, which stores a transition and the observation
// it leads to:
//
//	b.StartEpisode(replay.Obs{Frame: o0})
//	b.Append(a0, r0, term0, trunc0, replay.Obs{Frame: o1})
//	b.Append(a1, r1, term1, trunc1, replay.Obs{Frame: o2}) // ...
//
// Terminated (a terminal state was reached) and truncated (a time limit
// cut the episode short; the last state is not terminal) are kept apart,
// as in Gymnasium, so that a learner bootstraps through truncations.
//
// Sample draws training sequences: k+1 consecutive observations of one
// episode with the k transitions between them, optionally each with its
// F−1 predecessors (frame stacking). A sequence never crosses an episode
// boundary and never touches a step that the ring has overwritten.
//
// A Buffer is not safe for concurrent use.
package replay

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// Limits on a Spec and a capacity. They keep a corrupt file from asking
// for absurd allocations.
const (
	// MaxObsLen is the largest number of elements in one observation.
	MaxObsLen = 1 << 22
	// MaxActionDim is the largest action dimension.
	MaxActionDim = 1 << 16
	// MaxCapacity is the largest capacity in steps.
	MaxCapacity = math.MaxInt32
)

// Sentinel errors. Errors returned by this package wrap them, so callers
// branch with errors.Is.
var (
	// ErrSpec reports an invalid Spec, or data whose Spec differs from the
	// buffer's.
	ErrSpec = errors.New("replay: spec mismatch")
	// ErrEmpty reports that no sequence of the asked length can be sampled
	// yet.
	ErrEmpty = errors.New("replay: not enough data for a sequence")
	// ErrCorrupt reports a file that is not a replay buffer, is truncated,
	// or fails its checksum.
	ErrCorrupt = errors.New("replay: corrupt data")
	// ErrVersion reports a file written in another format version.
	ErrVersion = errors.New("replay: unsupported format version")
)

// Spec describes one step's observation and action.
//
// Exactly one of FrameShape and ObsDim is set. Frames are stored as uint8,
// H×W×C row-major with channels last (C = 3 for RGB: byte
// (y·W + x)·3 + c is channel c of pixel (x, y)); vectors as float32.
//
// Actions are float32 vectors of ActionDim elements, stored as the caller
// gives them: a discrete action is either its index in a one-element
// vector (ActionDim 1) or a one-hot vector (ActionDim = number of
// actions), whichever the learner wants to read back.
type Spec struct {
	// FrameShape is (H, W, C) for frame observations, zero for vectors.
	FrameShape [3]int
	// ObsDim is the length of a vector observation, zero for frames.
	ObsDim int
	// ActionDim is the length of an action vector (at least 1).
	ActionDim int
}

// Frames reports whether observations are frames (else vectors).
func (s Spec) Frames() bool { return s.ObsDim == 0 }

// ObsLen is the number of elements in one observation: H·W·C for frames,
// ObsDim for vectors.
func (s Spec) ObsLen() int {
	if s.Frames() {
		return s.FrameShape[0] * s.FrameShape[1] * s.FrameShape[2]
	}
	return s.ObsDim
}

// Validate checks that exactly one kind of observation is described and
// that every size is within the package limits.
func (s Spec) Validate() error {
	frame := s.FrameShape != [3]int{}
	switch {
	case frame && s.ObsDim != 0:
		return fmt.Errorf("%w: both FrameShape %v and ObsDim %d set (allowed: one of them)", ErrSpec, s.FrameShape, s.ObsDim)
	case !frame && s.ObsDim == 0:
		return fmt.Errorf("%w: neither FrameShape nor ObsDim set (allowed: one of them)", ErrSpec)
	case s.ObsDim < 0 || s.ObsDim > MaxObsLen:
		return fmt.Errorf("%w: ObsDim %d (allowed: 1 to %d)", ErrSpec, s.ObsDim, MaxObsLen)
	case s.ActionDim < 1 || s.ActionDim > MaxActionDim:
		return fmt.Errorf("%w: ActionDim %d (allowed: 1 to %d)", ErrSpec, s.ActionDim, MaxActionDim)
	}
	if frame {
		n := 1
		for _, d := range s.FrameShape {
			if d < 1 || d > MaxObsLen {
				return fmt.Errorf("%w: FrameShape %v (allowed: positive sizes, H·W·C ≤ %d)", ErrSpec, s.FrameShape, MaxObsLen)
			}
			n *= d
			if n > MaxObsLen {
				return fmt.Errorf("%w: FrameShape %v (allowed: positive sizes, H·W·C ≤ %d)", ErrSpec, s.FrameShape, MaxObsLen)
			}
		}
	}
	return nil
}

// Obs is one observation: Frame for a frame Spec (ObsLen bytes), Vector
// for a vector Spec (ObsDim elements). The buffer copies it.
type Obs struct {
	Frame  []uint8
	Vector []float32
}

// Flag bits of a step.
const (
	flagTerminated = 1 << iota
	flagTruncated
	// flagNext marks a step that holds a transition: the observation it
	// leads to is the next step.
	flagNext
	// flagAbsorbing marks the padding steps stored after a terminated
	// transition (see SetAbsorbing).
	flagAbsorbing
	flagMask = flagTerminated | flagTruncated | flagNext | flagAbsorbing
)

// Storage is allocated in chunks as steps are first written, so that a
// large capacity costs nothing until it is used and a file's header cannot
// make a reader allocate more than the file holds.
const (
	chunkBytes    = 1 << 20
	maxChunkSlots = 1 << 12
)

// chunk holds a run of consecutive slots; slot i's observation is
// frames[i·L:(i+1)·L] (or vectors), its action actions[i·A:(i+1)·A].
type chunk struct {
	frames  []uint8
	vectors []float32
	actions []float32
	rewards []float32
	flags   []uint8
	ep      []uint64
	step    []uint64
}

// Buffer is a ring buffer of Cap steps; see the package documentation for
// what a step holds.
//
// Every slot records the episode it belongs to (a counter starting at 1;
// 0 marks an unwritten slot) and its step index in that episode. Because
// the ring writes slots in order, a slot range [s, s+n] holds n+1 steps of
// one episode, none overwritten, exactly when its two ends hold steps t and
// t+n of the same episode; Sample's validity checks rest on this.
type Buffer struct {
	spec     Spec
	capacity int
	obsLen   int
	shift    uint
	mask     int
	chunks   []*chunk

	head int // slot the next step is written to
	used int // slots written at least once (≤ capacity)

	nextEp  uint64 // id of the next episode
	curEp   uint64 // id of the episode being written
	curStep uint64 // step index of its last written observation
	open    bool   // the episode being written accepts Append

	transitions int // held steps with a transition
	episodes    int // episodes with at least one held step

	indexes []*index // valid sequence starts, one set per (k, F) sampled

	absorbing int       // padding steps stored after each terminated transition
	absAction []float32 // the terminal action, copied while padding
}

// SetAbsorbing makes the buffer store n absorbing steps after every
// terminated transition: the terminal observation again, reached from
// itself with the terminal transition's action, reward 0 and the
// terminated flag. Sequences of up to n transitions may then start at any
// step of a terminated episode, so that a learner sees terminal
// transitions in every position of its sequences, not only in the last
// (the absorbing-state construction of Kostrikov et al. 2019). Len counts
// the absorbing transitions too. Truncated episodes get no padding: what
// follows a time limit is unknown.
func (b *Buffer) SetAbsorbing(n int) {
	if n < 0 {
		panic("replay: SetAbsorbing with a negative count")
	}
	b.absorbing = n
	b.absAction = make([]float32, b.spec.ActionDim)
}

// New returns an empty buffer of capacity steps (at least 2). Memory is
// allocated as steps are written.
func New(spec Spec, capacity int) (*Buffer, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if capacity < 2 || capacity > MaxCapacity {
		return nil, fmt.Errorf("replay: capacity %d (allowed: 2 to %d)", capacity, MaxCapacity)
	}
	b := &Buffer{spec: spec, capacity: capacity, obsLen: spec.ObsLen(), nextEp: 1}
	slot := 8 + 8 + 1 + 4 + 4*spec.ActionDim
	if spec.Frames() {
		slot += b.obsLen
	} else {
		slot += 4 * b.obsLen
	}
	n := 1
	for n*2*slot <= chunkBytes && n*2 <= maxChunkSlots && n < capacity {
		n *= 2
	}
	for b.shift = 0; 1<<b.shift < n; b.shift++ {
	}
	b.mask = n - 1
	return b, nil
}

// Spec returns the buffer's spec.
func (b *Buffer) Spec() Spec { return b.spec }

// Cap is the capacity in steps (observations).
func (b *Buffer) Cap() int { return b.capacity }

// Steps is the number of observations held.
func (b *Buffer) Steps() int { return b.used }

// Len is the number of transitions held: steps whose next observation is
// held too.
func (b *Buffer) Len() int { return b.transitions }

// Episodes is the number of episodes with at least one step held,
// including the one being written.
func (b *Buffer) Episodes() int { return b.episodes }

// StartEpisode begins a new episode with its first observation. An episode
// still open (neither terminated nor truncated) simply ends: no sequence
// will run from it into the new one.
func (b *Buffer) StartEpisode(obs Obs) {
	b.checkObs(obs)
	b.curEp, b.curStep, b.open = b.nextEp, 0, true
	b.nextEp++
	b.episodes++
	b.write(obs)
}

// Append stores the transition from the last observation: the action
// taken, the reward received, the two flags and the observation reached.
// After a terminated or truncated transition the episode is closed and the
// next call must be StartEpisode. It panics on a shape mismatch or when no
// episode is open; it allocates nothing once the ring is full.
func (b *Buffer) Append(action []float32, reward float32, terminated, truncated bool, next Obs) {
	if !b.open {
		panic("replay: Append without an open episode (call StartEpisode first, and after every terminated or truncated step)")
	}
	if len(action) != b.spec.ActionDim {
		panic(fmt.Sprintf("replay: action of length %d, spec has ActionDim %d", len(action), b.spec.ActionDim))
	}
	b.checkObs(next)
	prev := b.head - 1
	if prev < 0 {
		prev += b.capacity
	}
	c, i := b.slot(prev)
	a := b.spec.ActionDim
	copy(c.actions[i*a:(i+1)*a], action)
	c.rewards[i] = reward
	f := uint8(flagNext)
	if terminated {
		f |= flagTerminated
	}
	if truncated {
		f |= flagTruncated
	}
	c.flags[i] = f
	b.transitions++
	b.curStep++
	b.open = !terminated && !truncated
	b.write(next)
	if !terminated || b.absorbing == 0 {
		return
	}
	act := b.absAction
	copy(act, c.actions[i*a:(i+1)*a])
	for range b.absorbing {
		prev = b.head - 1
		if prev < 0 {
			prev += b.capacity
		}
		pc, pi := b.slot(prev)
		copy(pc.actions[pi*a:(pi+1)*a], act)
		pc.rewards[pi] = 0
		pc.flags[pi] = flagNext | flagTerminated | flagAbsorbing
		b.transitions++
		b.curStep++
		b.write(next)
	}
	prev = b.head - 1
	if prev < 0 {
		prev += b.capacity
	}
	pc, pi := b.slot(prev)
	pc.flags[pi] = flagAbsorbing
}

func (b *Buffer) checkObs(o Obs) {
	if b.spec.Frames() {
		if len(o.Frame) != b.obsLen || o.Vector != nil {
			panic(fmt.Sprintf("replay: observation with %d frame bytes and %d vector elements, spec wants a frame of %d bytes", len(o.Frame), len(o.Vector), b.obsLen))
		}
		return
	}
	if len(o.Vector) != b.obsLen || o.Frame != nil {
		panic(fmt.Sprintf("replay: observation with %d frame bytes and %d vector elements, spec wants a vector of %d", len(o.Frame), len(o.Vector), b.obsLen))
	}
}

// slot returns the chunk holding slot s and s's offset in it.
func (b *Buffer) slot(s int) (*chunk, int) { return b.chunks[s>>b.shift], s & b.mask }

func (b *Buffer) id(s int) (ep, step uint64) {
	c, i := b.slot(s)
	return c.ep[i], c.step[i]
}

// write stores the observation of step (curEp, curStep) at the head,
// evicting the oldest step when the ring is full, and updates the sets of
// valid sequence starts.
func (b *Buffer) write(obs Obs) {
	w := b.head
	if w < b.used {
		b.evict(w)
	} else {
		b.grow(w)
		b.used++
	}
	c, i := b.slot(w)
	l, a := b.obsLen, b.spec.ActionDim
	if b.spec.Frames() {
		copy(c.frames[i*l:(i+1)*l], obs.Frame)
	} else {
		copy(c.vectors[i*l:(i+1)*l], obs.Vector)
	}
	clear(c.actions[i*a : (i+1)*a])
	c.rewards[i], c.flags[i] = 0, 0
	c.ep[i], c.step[i] = b.curEp, b.curStep
	b.head = (w + 1) % b.capacity
	for _, ix := range b.indexes {
		b.touch(ix, w)
	}
}

// evict forgets the step at slot w, the oldest one held.
func (b *Buffer) evict(w int) {
	c, i := b.slot(w)
	if c.flags[i]&flagNext != 0 {
		b.transitions--
	}
	ep, step := c.ep[i], c.step[i]
	if e, s := b.id((w + 1) % b.capacity); e != ep || s != step+1 {
		b.episodes-- // w held the episode's last step
	}
}

// grow allocates the chunk of slot w when w is its first slot.
func (b *Buffer) grow(w int) {
	if w>>b.shift < len(b.chunks) {
		return
	}
	n := min(b.mask+1, b.capacity-w)
	c := &chunk{
		actions: make([]float32, n*b.spec.ActionDim),
		rewards: make([]float32, n),
		flags:   make([]uint8, n),
		ep:      make([]uint64, n),
		step:    make([]uint64, n),
	}
	if b.spec.Frames() {
		c.frames = make([]uint8, n*b.obsLen)
	} else {
		c.vectors = make([]float32, n*b.obsLen)
	}
	b.chunks = append(b.chunks, c)
}

// PackRGB writes the RGB bytes of img (alpha dropped) into dst in the
// layout of a frame Spec with FrameShape (H, W, 3), H×W being img's size,
// and returns it. A nil or short dst is replaced by a new slice.
func PackRGB(dst []uint8, img *image.RGBA) []uint8 {
	r := img.Rect
	w, h := r.Dx(), r.Dy()
	if cap(dst) < w*h*3 {
		dst = make([]uint8, w*h*3)
	}
	dst = dst[:w*h*3]
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		out := dst[y*w*3 : (y+1)*w*3]
		for x := range w {
			out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
	return dst
}
