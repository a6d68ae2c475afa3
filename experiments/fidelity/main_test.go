package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

// TestCommand trains tiny runs (the debug preset) and scores them with
// the command, as a table and as JSON.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny runs")
	}
	for _, tc := range []struct {
		env, dynamics string
		grid          bool
	}{
		{"gridworld/frozenlake-4x4", "mixture", true},
		{"physics/pendulum", "gaussian", false},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cfg, err := agent.Preset("debug")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Env, cfg.Steps, cfg.SeedSteps = tc.env, 120, 60
			cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = 120, 1, 120
			cfg.Model.Dynamics = tc.dynamics
			dir := filepath.Join(t.TempDir(), "run")
			r, err := agent.New(cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			args := []string{"--horizon", "2", "--samples", "4", "--sequences", "4", "--probe-episodes", "2", "--episodes", "1", "--starts", "10"}
			var table bytes.Buffer
			if err := run(append(args, dir), &table, io.Discard); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(table.String(), tc.dynamics) || !strings.Contains(table.String(), "scored in") {
				t.Errorf("table:\n%s", table.String())
			}
			var out bytes.Buffer
			if err := run(append(args, "--json", dir), &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var res []Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].Dynamics != tc.dynamics {
				t.Fatalf("results %+v", res)
			}
			if tc.grid {
				if len(res[0].Gridworld) != 2 {
					t.Fatalf("%d gridworld horizons, want 2", len(res[0].Gridworld))
				}
				for _, s := range res[0].Gridworld {
					if !(s.TV >= 0 && s.TV <= 1) || s.Pairs != 11*4 {
						t.Errorf("h = %d: TV %g over %d pairs", s.H, s.TV, s.Pairs)
					}
				}
				return
			}
			if len(res[0].Probe) != 2 {
				t.Fatalf("%d probe horizons, want 2", len(res[0].Probe))
			}
			for _, s := range res[0].Probe {
				if s.Pairs == 0 || math.IsNaN(s.NRMSE) || len(s.RMSE) != 3 {
					t.Errorf("h = %d: %+v", s.H, s)
				}
			}
		})
	}
}
