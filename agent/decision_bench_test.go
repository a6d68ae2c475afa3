package agent

import (
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// BenchmarkDecision times one planner decision of the default agent on
// gridworld/frozenlake-4x4 from 32×32 pixels, with the default planner
// budget: K sampled futures for the Gaussian model, one (its mean) for the
// deterministic model and for --plan-with mean; and with q a head of its
// own rather than the gridworld default's value plus advantage. Steady
// state allocates nothing.
func BenchmarkDecision(b *testing.B) {
	b.Logf("BLAS: %s", worldmodel.UseFastBLAS())
	for _, c := range []struct {
		name     string
		dynamics string
		planWith string
		budget   planner.Config // zero: the default budget
		qHead    string         // "": the default
	}{
		{"gaussian/samples", worldmodel.DynamicsGaussian, PlanSamples, planner.Config{}, ""},
		{"gaussian/samples/direct-q", worldmodel.DynamicsGaussian, PlanSamples, planner.Config{}, worldmodel.QHeadDirect},
		{"gaussian/mean", worldmodel.DynamicsGaussian, PlanMean, planner.Config{}, ""},
		{"deterministic", worldmodel.DynamicsDeterministic, PlanSamples, planner.Config{}, ""},
		{"gaussian/samples/N64K4H5I3", worldmodel.DynamicsGaussian, PlanSamples,
			planner.Config{Candidates: 64, Samples: 4, Horizon: 5, Iterations: 3}, ""},
		{"gaussian/rollout/K64H3λ0.3", worldmodel.DynamicsGaussian, PlanSamples,
			planner.Config{Method: planner.Rollout, Samples: 64, Horizon: 3, Lambda: 0.3}, ""},
		{"mixture/rollout/K64H3λ0.3", worldmodel.DynamicsMixture, PlanSamples,
			planner.Config{Method: planner.Rollout, Samples: 64, Horizon: 3, Lambda: 0.3}, ""},
		{"gaussian/cem/H3λ0.3", worldmodel.DynamicsGaussian, PlanSamples,
			planner.Config{Horizon: 3, Lambda: 0.3}, ""},
		{"gaussian/cem/H3λ0.3/common", worldmodel.DynamicsGaussian, PlanSamples,
			planner.Config{Horizon: 3, Lambda: 0.3, Noise: planner.NoiseCommon}, ""},
		{"mixture/cem/H3λ0.3/common", worldmodel.DynamicsMixture, PlanSamples,
			planner.Config{Horizon: 3, Lambda: 0.3, Noise: planner.NoiseCommon}, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, err := Preset("default")
			if err != nil {
				b.Fatal(err)
			}
			cfg.Model.Dynamics, cfg.PlanWith = c.dynamics, c.planWith
			if c.qHead != "" {
				cfg.Model.QHead = c.qHead
			}
			if c.budget != (planner.Config{}) {
				cfg.Planner = c.budget
			}
			cfg = cfg.WithDefaults()
			env, err := registry.Make(cfg.Env, envs.Options{})
			if err != nil {
				b.Fatal(err)
			}
			spec := ModelSpec(env, cfg.Model.FrameStack)
			m, err := worldmodel.New(cfg.Model, spec, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			p, err := newPlanner(cfg, env.ActionSpace(), m, nil)
			if err != nil {
				b.Fatal(err)
			}
			obs := NewObserver(spec)
			obs.Reset(env.Reset(1))
			z := obs.Encode(m)
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

// BenchmarkEnvStep times one environment step of the default training run
// after its seed steps: encode the stacked frames, plan, step the
// environment, append to the replay buffer ("act"), and with "train" also
// the gradient steps owed (TrainRatio of them, batch BatchSize), as
// Run.Train does between evaluations.
func BenchmarkEnvStep(b *testing.B) {
	worldmodel.UseFastBLAS()
	for _, train := range []bool{false, true} {
		name := "act"
		if train {
			name = "act+train"
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := Preset("default")
			if err != nil {
				b.Fatal(err)
			}
			const seeds = 500
			cfg.Steps, cfg.SeedSteps = 1000000, seeds
			r, err := New(cfg, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			space := r.env.ActionSpace()
			r.startEpisode()
			step := func() {
				r.act(space)
				obs, rew, term, trunc := r.env.Step(r.action)
				r.st.EnvSteps++
				r.buf.Append(r.modelAction, float32(rew), term, trunc, r.obs.Push(obs))
				if term || trunc {
					r.startEpisode()
				}
				if train && r.st.EnvSteps >= seeds {
					if err := r.trainSome(); err != nil {
						b.Fatal(err)
					}
				}
			}
			for r.st.EnvSteps <= seeds {
				step()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
		})
	}
}
