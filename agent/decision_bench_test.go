package agent

import (
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

// BenchmarkDecision times one planner decision of the default agent on
// gridworld/frozenlake-4x4 from 32×32 pixels, with the default planner
// budget: K sampled futures for the Gaussian model, one (its mean) for the
// deterministic model and for --plan-with mean. Steady state allocates
// nothing.
func BenchmarkDecision(b *testing.B) {
	b.Logf("BLAS: %s", worldmodel.UseFastBLAS())
	for _, c := range []struct {
		name     string
		dynamics string
		planWith string
	}{
		{"gaussian/samples", worldmodel.DynamicsGaussian, PlanSamples},
		{"gaussian/mean", worldmodel.DynamicsGaussian, PlanMean},
		{"deterministic", worldmodel.DynamicsDeterministic, PlanSamples},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, err := Preset("default")
			if err != nil {
				b.Fatal(err)
			}
			cfg.Model.Dynamics, cfg.PlanWith = c.dynamics, c.planWith
			cfg = cfg.WithDefaults()
			env, err := registry.Make(cfg.Env, envs.Options{})
			if err != nil {
				b.Fatal(err)
			}
			spec := modelSpec(env, cfg.Model.FrameStack)
			m, err := worldmodel.New(cfg.Model, spec, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			p, err := newPlanner(cfg, env.ActionSpace(), m)
			if err != nil {
				b.Fatal(err)
			}
			obs := newObserver(spec)
			obs.reset(env.Reset(1))
			z := obs.encode(m)
			rng := rand.New(rand.NewPCG(3, 4))
			p.Plan(z, rng)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p.Plan(z, rng)
			}
		})
	}
}

// BenchmarkActStep times one acting step of a training run after its seed
// steps: encode the stacked frames, plan, step the environment and append
// to the replay buffer (no gradient step).
func BenchmarkActStep(b *testing.B) {
	worldmodel.UseFastBLAS()
	cfg, err := Preset("default")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Steps, cfg.SeedSteps = 1000000, 1
	dir := b.TempDir()
	r, err := New(cfg, dir)
	if err != nil {
		b.Fatal(err)
	}
	space := r.env.ActionSpace()
	r.startEpisode()
	step := func() {
		r.act(space)
		obs, rew, term, trunc := r.env.Step(r.action)
		r.st.EnvSteps++
		r.buf.Append(r.modelAction, float32(rew), term, trunc, r.obs.push(obs))
		if term || trunc {
			r.startEpisode()
		}
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}
