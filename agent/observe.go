package agent

import (
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/replay"
	"github.com/dreamrl/dream/worldmodel"
)

// Observer keeps the last F observations of the current episode, in the
// replay buffer's form (uint8 RGB frames or float32 vectors), and turns
// them into the model's input row and latent, as a run does when it acts.
// Observations come from an env made with the run's observation mode and
// size (Spec). An Observer is not safe for concurrent use.
type Observer struct {
	spec   worldmodel.Spec
	frames []uint8   // F×ObsDim, oldest first
	vecs   []float32 // F×ObsDim, oldest first
	input  []float32
	z      []float32
}

// NewObserver returns an Observer for models of the given spec.
func NewObserver(spec worldmodel.Spec) *Observer {
	o := &Observer{spec: spec, input: make([]float32, spec.InputDim())}
	if spec.Pixels() {
		o.frames = make([]uint8, spec.Stack*spec.ObsDim)
	} else {
		o.vecs = make([]float32, spec.Stack*spec.ObsDim)
	}
	return o
}

// latest returns the newest observation as the replay buffer stores it.
func (o *Observer) latest() replay.Obs {
	n := o.spec.ObsDim
	if o.frames != nil {
		return replay.Obs{Frame: o.frames[len(o.frames)-n:]}
	}
	return replay.Obs{Vector: o.vecs[len(o.vecs)-n:]}
}

// Reset fills every stacked slot with the first observation of an episode.
func (o *Observer) Reset(obs envs.Observation) replay.Obs {
	o.Push(obs)
	n := o.spec.ObsDim
	last := len(o.frames) - n
	for f := 0; f < o.spec.Stack-1; f++ {
		if o.frames != nil {
			copy(o.frames[f*n:(f+1)*n], o.frames[last:])
		} else {
			copy(o.vecs[f*n:(f+1)*n], o.vecs[len(o.vecs)-n:])
		}
	}
	return o.latest()
}

// Push shifts in the next observation.
func (o *Observer) Push(obs envs.Observation) replay.Obs {
	n := o.spec.ObsDim
	if o.frames != nil {
		copy(o.frames, o.frames[n:])
		replay.PackRGB(o.frames[len(o.frames)-n:], obs.Frame)
	} else {
		copy(o.vecs, o.vecs[n:])
		dst := o.vecs[len(o.vecs)-n:]
		for i, v := range obs.Vector {
			dst[i] = float32(v)
		}
	}
	return o.latest()
}

// Encode returns the latent of the stacked observations (owned by o,
// valid until the next Encode).
func (o *Observer) Encode(m *worldmodel.Model) []float32 {
	if o.frames != nil {
		worldmodel.PixelsToInput(o.input, o.frames, o.spec.Stack, o.spec.Frame[0], o.spec.Frame[1])
	} else {
		copy(o.input, o.vecs)
	}
	if len(o.z) != m.LatentDim() {
		o.z = make([]float32, m.LatentDim())
	}
	m.Encode(o.z, o.input, 1)
	return o.z
}
