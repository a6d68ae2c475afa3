package agent

import (
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/planner"
)

// The world model sees a box action in [−1, 1]^n, whatever the
// environment's bounds (TD-MPC2 normalises actions the same way), so that
// its inputs have one scale and the value targets' random candidate
// actions in [−1, 1]^n cover the whole space. The planner and the
// environment keep the environment's units.

// EncodeAction writes the model's form of an env action: one-hot for a
// discrete space, each component mapped from [low, high] to [−1, 1] for a
// box.
func EncodeAction(dst []float32, a []float64, space envs.Space) {
	if space.Kind == envs.KindDiscrete {
		clear(dst)
		dst[int(a[0])] = 1
		return
	}
	for i, v := range a {
		lo, hi := space.Low[i], space.High[i]
		dst[i] = float32(2*(v-lo)/(hi-lo) - 1)
	}
}

// scaledModel is a planner model whose box actions, in the environment's
// units, are mapped to [−1, 1] before they reach the world model.
type scaledModel struct {
	m         planner.Model
	q         planner.ActionValuer   // nil unless m has an action value
	qv        planner.QuantileValuer // nil unless m's action value has quantiles
	low, span []float32              // per dimension: low and (high − low)/2
	buf       []float32
}

func newScaledModel(m planner.Model, space envs.Space) *scaledModel {
	s := &scaledModel{m: m}
	s.q, s.qv = actionValues(m)
	for i := range space.Dim() {
		s.low = append(s.low, float32(space.Low[i]))
		s.span = append(s.span, float32((space.High[i]-space.Low[i])/2))
	}
	return s
}

// scale returns rows actions mapped to [−1, 1] (a scratch slice).
func (s *scaledModel) scale(a []float32, rows int) []float32 {
	n := len(s.low)
	if cap(s.buf) < rows*n {
		s.buf = make([]float32, rows*n)
	}
	b := s.buf[:rows*n]
	for i := range b {
		j := i % n
		b[i] = (a[i]-s.low[j])/s.span[j] - 1
	}
	return b
}

func (s *scaledModel) LatentDim() int { return s.m.LatentDim() }
func (s *scaledModel) ActionDim() int { return s.m.ActionDim() }
func (s *scaledModel) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	s.m.Step(next, reward, cont, z, s.scale(a, rows), rows, sample, rng)
}
func (s *scaledModel) StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	stepCommon(s.m, next, reward, cont, z, s.scale(a, rows), rows, period, rng)
}
func (s *scaledModel) Value(dst, z []float32, rows int) { s.m.Value(dst, z, rows) }
func (s *scaledModel) HasActionValue() bool             { return s.q != nil }
func (s *scaledModel) ActionValue(dst, z, a []float32, rows int) {
	s.q.ActionValue(dst, z, s.scale(a, rows), rows)
}
func (s *scaledModel) QuantileCount() int { return quantileCount(s.qv) }
func (s *scaledModel) ActionValueQuantiles(dst, z, a []float32, rows int) {
	s.qv.ActionValueQuantiles(dst, z, s.scale(a, rows), rows)
}

// stepCommon samples a step of m with common random numbers where m can
// (planner.CommonNoiseModel), else with independent ones, for the planner
// models that wrap m to pass on.
func stepCommon(m planner.Model, next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	if cn, ok := m.(planner.CommonNoiseModel); ok {
		cn.StepCommon(next, reward, cont, z, a, rows, period, rng)
		return
	}
	m.Step(next, reward, cont, z, a, rows, true, rng)
}

// actionValues returns m as an action valuer if it has an action value
// (else nil), and as a quantile valuer if that action value has
// quantiles (else nil), for the planner models that wrap m to pass on.
func actionValues(m planner.Model) (planner.ActionValuer, planner.QuantileValuer) {
	q, ok := m.(planner.ActionValuer)
	if !ok || !q.HasActionValue() {
		return nil, nil
	}
	if qv, ok := m.(planner.QuantileValuer); ok && qv.QuantileCount() > 0 {
		return q, qv
	}
	return q, nil
}

// quantileCount is qv's number of quantiles, 0 for nil.
func quantileCount(qv planner.QuantileValuer) int {
	if qv == nil {
		return 0
	}
	return qv.QuantileCount()
}

// componentStepper is a model that can imagine a step by drawing a
// mixture component and following its mean (worldmodel.Model.StepComponents).
type componentStepper interface {
	StepComponents(next, reward, cont, z, a []float32, rows int, rng *rand.Rand)
	StepComponentsCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand)
}

// componentModel is a planner model whose sampled steps follow a drawn
// component's mean (plan_with "components"); its steps without sampling,
// values and action values are the model's own.
type componentModel struct {
	planner.Model
	c  componentStepper
	q  planner.ActionValuer   // nil unless the model has an action value
	qv planner.QuantileValuer // nil unless the action value has quantiles
}

func newComponentModel(m planner.Model, c componentStepper) *componentModel {
	cm := &componentModel{Model: m, c: c}
	cm.q, cm.qv = actionValues(m)
	return cm
}

func (c *componentModel) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	if !sample {
		c.Model.Step(next, reward, cont, z, a, rows, false, rng)
		return
	}
	c.c.StepComponents(next, reward, cont, z, a, rows, rng)
}
func (c *componentModel) StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	c.c.StepComponentsCommon(next, reward, cont, z, a, rows, period, rng)
}
func (c *componentModel) HasActionValue() bool { return c.q != nil }
func (c *componentModel) ActionValue(dst, z, a []float32, rows int) {
	c.q.ActionValue(dst, z, a, rows)
}
func (c *componentModel) QuantileCount() int { return quantileCount(c.qv) }
func (c *componentModel) ActionValueQuantiles(dst, z, a []float32, rows int) {
	c.qv.ActionValueQuantiles(dst, z, a, rows)
}
