package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

// TestEveryCommandBadFlags gives every command bad flag values: each must
// be refused with one line that names the flag and what is allowed, and
// must not create its output.
func TestEveryCommandBadFlags(t *testing.T) {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "missing")
	// A run directory with a config and no checkpoint yet.
	fresh := filepath.Join(tmp, "fresh")
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Steps, cfg.SeedSteps = 100, 50
	if _, err := agent.New(cfg, fresh); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o644)
	gif := filepath.Join(tmp, "out.gif")
	pngOut := filepath.Join(tmp, "out.png")
	out := filepath.Join(tmp, "out")
	const envList = "gridworld/frozenlake-4x4, gridworld/frozenlake-8x8"
	const risks = "mean, cvar:α with 0 < α ≤ 1"
	tests := []struct {
		name    string
		args    []string
		flag    string
		allowed string
	}{
		{"envs unknown flag", []string{"envs", "--env", "x"}, "--env", "allowed: --help"},

		{"rollout unknown env", []string{"rollout", "--env", "nope", "--actions", "0"}, "--env nope", envList},
		{"rollout no env", []string{"rollout", "--actions", "0"}, "--env", envList},
		{"rollout negative seed", []string{"rollout", "--env", "physics/cartpole", "--actions", "0", "--seed", "-1"}, `--seed "-1"`, "an integer from 0"},
		{"rollout bad action", []string{"rollout", "--env", "physics/cartpole", "--actions", "0,3"}, "--actions", "allowed: an integer in [0, 1]"},
		{"rollout bad format", []string{"rollout", "--env", "physics/cartpole", "--actions", "0", "--format", "xml"}, "--format", "csv, json"},
		{"rollout map without gridworld", []string{"rollout", "--env", "physics/cartpole", "--map", file, "--actions", "0"}, "--map", "gridworld"},

		{"record unknown env", []string{"record", "--env", "nope", "--gif", gif}, "--env nope", envList},
		{"record negative episodes", []string{"record", "--env", "physics/cartpole", "--episodes", "-2", "--gif", gif}, "--episodes -2", "1 to 1000"},
		{"record negative max steps", []string{"record", "--env", "physics/cartpole", "--max-steps", "-1", "--gif", gif}, "--max-steps -1", "1 or more"},
		{"record tiny size", []string{"record", "--env", "physics/cartpole", "--size", "2", "--gif", gif}, "--size 2", "8 to 1024"},
		{"record no gif", []string{"record", "--env", "physics/cartpole"}, "--gif", "the output file"},

		{"train negative steps", []string{"train", "--steps", "-5", "--run-dir", out}, "--steps -5", "a positive number"},
		{"train steps not a number", []string{"train", "--steps", "many", "--run-dir", out}, `--steps "many"`, "an integer"},
		{"train steps without value", []string{"train", "--run-dir", out, "--steps"}, "--steps", "an integer"},
		{"train unknown env", []string{"train", "--env", "nope", "--run-dir", out}, `--env "nope"`, envList},
		{"train unknown dynamics", []string{"train", "--dynamics", "quantum", "--run-dir", out}, `--dynamics "quantum"`, "gaussian, deterministic"},
		{"train bad risk", []string{"train", "--risk", "cvar:2", "--run-dir", out}, "--risk", risks},
		{"train unknown risk", []string{"train", "--risk", "median", "--run-dir", out}, "--risk", risks},
		{"train bad obs", []string{"train", "--obs", "rgb", "--run-dir", out}, `--obs "rgb"`, "pixels, state"},
		{"train map without gridworld", []string{"train", "--env", "physics/cartpole", "--map", file, "--run-dir", out}, "--map", "--env gridworld"},
		{"train bad planner", []string{"train", "--planner", "astar", "--run-dir", out}, `--planner "astar"`, "cem, mppi"},
		{"train bad samples", []string{"train", "--samples", "0", "--run-dir", out}, "--samples 0", "1 to 1024"},
		{"train bad horizon", []string{"train", "--horizon", "-1", "--run-dir", out}, "--horizon -1", "1 to 256"},
		{"train bad plan-with", []string{"train", "--plan-with", "dreams", "--run-dir", out}, `--plan-with "dreams"`, "samples, mean"},
		{"train bad preset", []string{"train", "--preset", "huge", "--run-dir", out}, `--preset "huge"`, "default, debug"},
		{"train negative seed", []string{"train", "--seed", "-1", "--run-dir", out}, `--seed "-1"`, "an integer from 0"},
		{"train unknown flag", []string{"train", "--stepz", "3"}, "--stepz", "--steps"},
		{"train resume missing run dir", []string{"train", "--resume", "--run-dir", missing}, "--run-dir", "allowed: the directory of a run"},
		{"train resume run dir is a file", []string{"train", "--resume", "--run-dir", file}, "--run-dir", "allowed: the directory of a run"},
		{"train resume without run dir", []string{"train", "--resume"}, "--run-dir", "the run directory to continue"},
		{"train resume negative steps", []string{"train", "--resume", "--run-dir", fresh, "--steps", "-3"}, "--steps -3", "a positive number"},
		{"train resume other env", []string{"train", "--resume", "--run-dir", fresh, "--env", "physics/cartpole"}, "--env", "allowed with --resume: --run-dir, --steps"},

		{"eval missing run dir", []string{"eval", "--run-dir", missing}, "--run-dir", "allowed: the directory of a run"},
		{"eval no run dir", []string{"eval"}, "--run-dir", "allowed: the directory of a run"},
		{"eval negative episodes", []string{"eval", "--run-dir", fresh, "--episodes", "-1"}, "--episodes -1", "1 to 100000"},
		{"eval negative seed", []string{"eval", "--run-dir", fresh, "--seed", "-4"}, `--seed "-4"`, "an integer from 0"},
		{"eval zero horizon", []string{"eval", "--run-dir", fresh, "--horizon", "0"}, "--horizon 0", "1 to 256"},
		{"eval bad plan-with", []string{"eval", "--run-dir", fresh, "--plan-with", "dreams"}, `--plan-with "dreams"`, "samples, mean, components"},
		{"eval bad risk", []string{"eval", "--run-dir", fresh, "--risk", "worst"}, "--risk", risks},
		{"eval bad planner", []string{"eval", "--run-dir", fresh, "--planner", "ilqr"}, `--planner "ilqr"`, "cem, mppi, rollout"},
		{"eval zero candidates", []string{"eval", "--run-dir", fresh, "--candidates", "0"}, "--candidates 0", "1 to 4096"},
		{"eval many iterations", []string{"eval", "--run-dir", fresh, "--iterations", "65"}, "--iterations 65", "1 to 64"},
		{"eval bad lambda", []string{"eval", "--run-dir", fresh, "--lambda", "1.5"}, "--lambda 1.5", "0 < λ ≤ 1"},
		{"eval bad snap", []string{"eval", "--run-dir", fresh, "--snap-latents", "-3"}, "--snap-latents -3", "0 for none to 65536"},

		{"compare negative steps", []string{"compare", "--steps", "-5", "--out", out}, "--steps -5", "a positive number"},
		{"compare unknown env", []string{"compare", "--env", "nope", "--out", out}, `--env "nope"`, envList},
		{"compare unknown dynamics", []string{"compare", "--dynamics", "gaussian,quantum", "--out", out}, "--dynamics", `"gaussian", "deterministic"`},
		{"compare bad risk", []string{"compare", "--risk", "quantile:7", "--out", out}, "--risk", risks},
		{"compare shard out of range", []string{"compare", "--shard", "3/2", "--out", out}, `--shard "3/2"`, "i/n with 0 ≤ i < n"},
		{"compare shard not a fraction", []string{"compare", "--shard", "half", "--out", out}, `--shard "half"`, "i/n with 0 ≤ i < n"},
		{"compare negative seeds", []string{"compare", "--seeds", "-1", "--out", out}, "--seeds -1", "1 to"},
		{"compare bad threshold", []string{"compare", "--threshold", "lots", "--out", out}, `--threshold "lots"`, "a number"},
		{"compare bad status period", []string{"compare", "--status-every", "soon", "--out", out}, `--status-every "soon"`, "a duration"},
		{"compare merge missing dir", []string{"compare", "--merge", missing, "--out", out}, "--merge " + missing, "allowed: directories"},
		{"compare vary without values", []string{"compare", "--vary", "planner.horizon", "--out", out}, `--vary "planner.horizon"`, "allowed: KEY=V1,V2,…"},
		{"compare vary seed", []string{"compare", "--vary", "seed=0,1", "--out", out}, `--vary "seed=0,1"`, "use --seeds"},
		{"compare vary unknown key", []string{"compare", "--vary", "horizon=1,2", "--out", out}, `unknown key "horizon"`, "allowed: a dotted key of a config file, such as model.horizon, planner.horizon"},

		{"imagine missing run dir", []string{"imagine", "--run-dir", missing, "--gif", gif}, "--run-dir", "allowed: the directory of a run"},
		{"imagine negative steps", []string{"imagine", "--run-dir", fresh, "--gif", gif, "--steps", "-1"}, "--steps -1", "1 to 10000"},
		{"imagine negative samples", []string{"imagine", "--run-dir", fresh, "--gif", gif, "--samples", "-1"}, "--samples -1", "0 for the planner's"},
		{"imagine bad horizon", []string{"imagine", "--run-dir", fresh, "--gif", gif, "--horizon", "-2"}, "--horizon -2", "0 for the planner's"},

		{"bench negative time", []string{"bench", "--time", "-1s"}, "--time -1s", "a positive duration"},
		{"bench time not a duration", []string{"bench", "--time", "long"}, `--time "long"`, "a duration"},
		{"bench negative steps", []string{"bench", "--e2e-steps", "-5"}, "--e2e-steps -5", "a positive number"},

		{"plot no run dir", []string{"plot", "--out", pngOut}, "--run-dir", "allowed: the directory of a run"},
		{"plot missing run dir", []string{"plot", "--run-dir", missing, "--out", pngOut}, "--run-dir", "allowed: the directory of a run"},
		{"plot run dir is a file", []string{"plot", "--run-dir", file, "--out", pngOut}, "--run-dir", "allowed: the directory of a run"},
		{"plot run without rows", []string{"plot", "--run-dir", fresh, "--out", pngOut}, "--run-dir " + fresh, "allowed: a run that has trained"},
		{"plot no out", []string{"plot", "--run-dir", fresh}, "--out", "allowed: a file name ending in .png"},
		{"plot out not png", []string{"plot", "--run-dir", fresh, "--out", out}, "--out " + out, "allowed: a file name ending in .png"},
		{"plot out under a file", []string{"plot", "--run-dir", fresh, "--out", filepath.Join(file, "x.png")}, "is not a directory", "allowed: a file in an existing directory"},
		{"plot narrow", []string{"plot", "--run-dir", fresh, "--out", pngOut, "--width", "10"}, "--width 10", "200 to 8000"},
		{"plot height not a number", []string{"plot", "--run-dir", fresh, "--out", pngOut, "--height", "tall"}, `--height "tall"`, "an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, tt.flag) || !strings.Contains(msg, tt.allowed) {
				t.Errorf("error %q does not name %q and %q", msg, tt.flag, tt.allowed)
			}
		})
	}
	for _, p := range []string{out, gif, pngOut, missing} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a refused command created %s", p)
		}
	}
}
