package main

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

func trainDebug(t *testing.T, dynamics string, steps int) *worldmodel.Model {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Obs, cfg.Steps = "gridworld/frozenlake-4x4", "state", steps
	cfg.Model.Dynamics = dynamics
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = steps, 1, steps
	run, err := agent.New(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return run.Model().Averaged()
}

// TestMixtureSamplesLandOnRealOutcomes trains a mixture and a
// deterministic model briefly (the debug preset, FrozenLake 4x4 from
// state) and maps every sampled next latent of each slippery move (three
// distinct outcome cells) to its nearest real cell: the mixture's samples
// spread over the real outcomes, the deterministic model's one future
// cannot.
func TestMixtureSamplesLandOnRealOutcomes(t *testing.T) {
	env, err := registry.Make("gridworld/frozenlake-4x4", envs.Options{Obs: envs.ObsState})
	if err != nil {
		t.Fatal(err)
	}
	tv := map[string]float64{}
	for _, dyn := range []string{worldmodel.DynamicsMixture, worldmodel.DynamicsDeterministic} {
		m := trainDebug(t, dyn, 3000)
		g := gridOf(m, env.Simulator().(*gridworld.Env))
		sc := g.Score(m, Options{Horizon: 1, Samples: 256}, rand.New(rand.NewPCG(1, 2)))
		three := sc[0].ByOutcomes[2]
		if three.Pairs == 0 {
			t.Fatalf("%s: no move with three outcomes scored", dyn)
		}
		tv[dyn] = three.TV
		t.Logf("%s: TV at h = 1 over %d slippery moves %.3f", dyn, three.Pairs, three.TV)
	}
	// A model that always predicts one of three equally likely cells
	// scores TV 2/3 on it; one that sampled them exactly, about 0.05 with
	// 256 samples.
	if mix, det := tv[worldmodel.DynamicsMixture], tv[worldmodel.DynamicsDeterministic]; mix > 0.6 || mix > 0.75*det {
		t.Errorf("mixture TV %.3f on slippery moves, deterministic %.3f: want at most 0.6 and 3/4 of the deterministic's", mix, det)
	}
}
