package agent

import (
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/replay"
	"github.com/dreamrl/dream/worldmodel"
)

// snapModel is a planner model whose imagined latents are replaced by the
// nearest (in Euclidean distance) of a set of real latents, encoded from
// frames of the replay buffer (snap_latents): every imagined future then
// steps between latents that the encoder produced and that the reward,
// continuation and action-value heads were trained on. Its values and
// action values are the model's own.
type snapModel struct {
	planner.Model
	q    planner.ActionValuer   // nil unless the model has an action value
	qv   planner.QuantileValuer // nil unless the action value has quantiles
	book []float32              // n × LatentDim real latents
	d    int
}

func newSnapModel(m planner.Model, book []float32) *snapModel {
	s := &snapModel{Model: m, book: book, d: m.LatentDim()}
	s.q, s.qv = actionValues(m)
	return s
}

func (s *snapModel) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	s.Model.Step(next, reward, cont, z, a, rows, sample, rng)
	s.snap(next, rows)
}

func (s *snapModel) StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	stepCommon(s.Model, next, reward, cont, z, a, rows, period, rng)
	s.snap(next, rows)
}

// snap replaces each of rows latents in next with the nearest real one.
func (s *snapModel) snap(next []float32, rows int) {
	d, n := s.d, len(s.book)/s.d
	for r := range rows {
		zr := next[r*d : (r+1)*d]
		best, bestD := 0, math.Inf(1)
		for c := range n {
			bc := s.book[c*d : (c+1)*d]
			dist := 0.0
			for i, v := range zr {
				e := float64(v - bc[i])
				dist += e * e
			}
			if dist < bestD {
				best, bestD = c, dist
			}
		}
		copy(zr, s.book[best*d:(best+1)*d])
	}
}

func (s *snapModel) HasActionValue() bool { return s.q != nil }
func (s *snapModel) ActionValue(dst, z, a []float32, rows int) {
	s.q.ActionValue(dst, z, a, rows)
}
func (s *snapModel) QuantileCount() int { return quantileCount(s.qv) }
func (s *snapModel) ActionValueQuantiles(dst, z, a []float32, rows int) {
	s.qv.ActionValueQuantiles(dst, z, a, rows)
}

// replayLatents encodes the newest observation of n sequences sampled
// from buf (with the model's frame stack) and returns them, n × LatentDim,
// or nil when buf holds no sequence yet.
func replayLatents(m *worldmodel.Model, spec worldmodel.Spec, buf *replay.Buffer, n int, rng *rand.Rand) []float32 {
	if n <= 0 || buf == nil || buf.Sequences(0, spec.Stack) == 0 {
		return nil
	}
	b := replay.NewBatch(buf.Spec(), n, 0, spec.Stack)
	if err := buf.Sample(rng, b); err != nil {
		return nil
	}
	in := newModelBatch(spec, n, 0)
	toModelBatch(in, b, spec)
	z := make([]float32, n*m.LatentDim())
	m.Encode(z, in.Obs, n)
	return z
}
