package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/registry"
)

// train runs a debug-preset training of env from state and returns its
// run directory.
func train(t *testing.T, env string, quantiles int) string {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Obs, cfg.Steps = env, "state", 300
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = 300, 1, 300
	cfg.Model.QQuantiles = quantiles
	dir := filepath.Join(t.TempDir(), "run")
	r, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestValueMap checks that valuemap prints a row for every cell an agent
// can stand on, and an exact success that is a probability no better than
// the best policy's, with a scalar q and with quantiles.
func TestValueMap(t *testing.T) {
	env, err := registry.Make("gridworld/cliff-ice", envs.Options{Obs: envs.ObsState})
	if err != nil {
		t.Fatal(err)
	}
	g := env.Simulator().(*gridworld.Env)
	mp := g.Map()
	cells := 0
	for row := range mp.Rows {
		for col := range mp.Cols {
			if tl := mp.At(row, col); tl != gridworld.Wall && tl != gridworld.Hole && tl != gridworld.Goal {
				cells++
			}
		}
	}
	best := gridworld.OptimalSuccess(g, mp.MaxSteps)
	for _, quantiles := range []int{-1, 8} {
		t.Run(fmt.Sprint("quantiles ", quantiles), func(t *testing.T) {
			dir := train(t, "gridworld/cliff-ice", quantiles)
			var out bytes.Buffer
			if err := run(dir, &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			rows := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "(") && strings.Contains(l, ")  ") {
					rows++
				}
			}
			if rows != cells {
				t.Errorf("%d cell rows, want %d:\n%s", rows, cells, out.String())
			}
			var steps int
			var success, bestGot float64
			last := lines[len(lines)-1]
			if _, err := fmt.Sscanf(last, "its exact success within %d steps: %f (best policy %f)", &steps, &success, &bestGot); err != nil {
				t.Fatalf("last line %q: %v", last, err)
			}
			if steps != mp.MaxSteps || success < 0 || success > bestGot+1e-9 || bestGot != float64(int(best*1000+0.5))/1000 {
				t.Errorf("last line %q: want a success in [0, %.3f] within %d steps", last, best, mp.MaxSteps)
			}
		})
	}
	if err := run(filepath.Join(t.TempDir(), "none"), &bytes.Buffer{}); err == nil {
		t.Error("a missing run directory was taken")
	}
	if err := run(train(t, "physics/cartpole", -1), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a gridworld") {
		t.Errorf("a physics run: %v, want a not-a-gridworld error", err)
	}
}
