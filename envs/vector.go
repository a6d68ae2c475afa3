package envs

import (
	"image"
	"math/rand/v2"
	"sync"
)

// Transition is what one copy of a Vector returned for one step.
type Transition struct {
	// Obs is the observation to act on next: after an episode ended it is
	// the first observation of the new episode (automatic reset).
	Obs Observation
	// Final is the last observation of the episode that ended on this
	// step; it is set only when Terminated or Truncated.
	Final Observation
	// Reward, Terminated and Truncated are those of the step.
	Reward     float64
	Terminated bool
	Truncated  bool
}

// Vector steps N copies of an environment on goroutines, one goroutine per
// copy, resetting each copy automatically when its episode ends (the
// "same-step" auto-reset of Gymnasium's vector API, with the final
// observation kept in Transition.Final).
//
// Each copy draws the seed of every reset from its own stream, derived
// from the Vector's seed and the copy's index, so a Vector's whole
// trajectory follows from its seed. A Vector is not safe for concurrent
// use; Close stops its goroutines.
type Vector struct {
	envs    []Env
	rngs    []*rand.Rand
	out     []Transition
	finals  []Observation
	actions [][]float64
	work    []chan struct{}
	done    sync.WaitGroup
	closed  bool
}

// NewVector wraps the given environments (all of the same kind) and
// starts one goroutine per copy.
func NewVector(envs []Env, seed uint64) *Vector {
	if len(envs) == 0 {
		panic("envs: NewVector with no environments")
	}
	v := &Vector{
		envs:    envs,
		rngs:    make([]*rand.Rand, len(envs)),
		out:     make([]Transition, len(envs)),
		finals:  make([]Observation, len(envs)),
		actions: make([][]float64, len(envs)),
		work:    make([]chan struct{}, len(envs)),
	}
	for i, e := range envs {
		v.rngs[i] = rand.New(rand.NewPCG(seed, uint64(i)+1))
		v.finals[i] = newObservationLike(e)
		v.work[i] = make(chan struct{})
		go v.worker(i)
	}
	return v
}

func newObservationLike(e Env) Observation {
	if e.Mode() == ObsPixels {
		shape := e.ObservationSpace().Shape
		return Observation{Frame: image.NewRGBA(image.Rect(0, 0, shape[1], shape[0]))}
	}
	return Observation{Vector: make([]float64, e.ObservationSpace().Dim())}
}

// Len is the number of copies.
func (v *Vector) Len() int { return len(v.envs) }

// Env returns copy i (for rendering or inspection between steps).
func (v *Vector) Env(i int) Env { return v.envs[i] }

// Reset resets every copy with a seed drawn from its stream and returns
// the first observations (owned by the environments).
func (v *Vector) Reset() []Observation {
	obs := make([]Observation, len(v.envs))
	for i, e := range v.envs {
		obs[i] = e.Reset(v.rngs[i].Uint64())
		v.out[i] = Transition{Obs: obs[i]}
	}
	return obs
}

// Step applies actions[i] to copy i, all copies in parallel, and returns
// one Transition per copy. The returned slice and the observations in it
// are owned by the Vector and valid until the next Step or Reset.
func (v *Vector) Step(actions [][]float64) []Transition {
	if len(actions) != len(v.envs) {
		panic("envs: Vector.Step needs one action per copy")
	}
	copy(v.actions, actions)
	v.done.Add(len(v.envs))
	for _, w := range v.work {
		w <- struct{}{}
	}
	v.done.Wait()
	return v.out
}

func (v *Vector) worker(i int) {
	for range v.work[i] {
		e := v.envs[i]
		obs, r, term, trunc := e.Step(v.actions[i])
		t := Transition{Obs: obs, Reward: r, Terminated: term, Truncated: trunc}
		if term || trunc {
			copyObservation(v.finals[i], obs)
			t.Final = v.finals[i]
			t.Obs = e.Reset(v.rngs[i].Uint64())
		}
		v.out[i] = t
		v.done.Done()
	}
}

func copyObservation(dst, src Observation) {
	if src.Frame != nil {
		copy(dst.Frame.Pix, src.Frame.Pix)
		return
	}
	copy(dst.Vector, src.Vector)
}

// Close stops the goroutines. The Vector must not be used afterwards.
func (v *Vector) Close() {
	if v.closed {
		return
	}
	v.closed = true
	for _, w := range v.work {
		close(w)
	}
}
