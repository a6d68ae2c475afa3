package agent

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// TestPlannerModelsPassQuantiles checks that the planner's wrappers of
// the world model (actions scaled from a box, steps on mixture
// components, latents snapped to replay's) pass on the action value's
// quantiles when the model has them, reading the model's own (with the
// box's actions mapped to [−1, 1]), and report none when it has none.
func TestPlannerModelsPassQuantiles(t *testing.T) {
	const M, rows = 4, 3
	space := envs.Box([]float64{0}, []float64{4}, 2)
	model := func(quantiles int) *worldmodel.Model {
		cfg, _ := worldmodel.Preset("debug")
		cfg.ValueTarget, cfg.QQuantiles = worldmodel.ValueQ, quantiles
		rng := rand.New(rand.NewPCG(1, 2))
		m, err := worldmodel.New(cfg, worldmodel.Spec{ObsDim: 3, ActionDim: 2}, rng)
		if err != nil {
			t.Fatal(err)
		}
		// A few steps on random transitions, so that the quantiles'
		// output layer is no longer its initial zero.
		const B, K = 4, 2
		b := &worldmodel.Batch{B: B, K: K, Obs: make([]float32, (K+1)*B*3), Actions: make([]float32, K*B*2),
			Rewards: make([]float32, K*B), Terminated: make([]float32, K*B)}
		for range 3 {
			for _, s := range [][]float32{b.Obs, b.Actions, b.Rewards} {
				for i := range s {
					s[i] = float32(rng.NormFloat64())
				}
			}
			if _, err := m.TrainStep(b, rng); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	m := model(M)
	rng := rand.New(rand.NewPCG(3, 4))
	d := m.LatentDim()
	z := make([]float32, rows*d)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	env := []float32{0, 4, 1, 3, 2, 2} // in the box's units
	unit := []float32{-1, 1, -0.5, 0.5, 0, 0}
	want := make([]float32, rows*M)
	m.ActionValueQuantiles(want, z, unit, rows)
	if want[0] == want[M-1] {
		t.Fatalf("quantiles %v all alike: the check has no power", want)
	}
	wrappers := []struct {
		name string
		wrap func(planner.Model) planner.Model
		a    []float32
	}{
		{"scaled", func(m planner.Model) planner.Model { return newScaledModel(m, space) }, env},
		{"components", func(m planner.Model) planner.Model { return newComponentModel(m, m.(componentStepper)) }, unit},
		{"snapped", func(m planner.Model) planner.Model { return newSnapModel(m, z) }, unit},
	}
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			qv, ok := w.wrap(m).(planner.QuantileValuer)
			if !ok || qv.QuantileCount() != M {
				t.Fatalf("the wrapper is a quantile valuer %v of %d quantiles, want %d", ok, qv.QuantileCount(), M)
			}
			got := make([]float32, rows*M)
			qv.ActionValueQuantiles(got, z, w.a, rows)
			if !slices.Equal(got, want) {
				t.Errorf("quantiles %v, want the model's %v", got, want)
			}
			if n := w.wrap(model(0)).(planner.QuantileValuer).QuantileCount(); n != 0 {
				t.Errorf("a model without quantiles wrapped has %d", n)
			}
		})
	}
}
