package agent_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// failingCorridor is the example's Corridor that fails at its at-th step
// (at 0: never), as a Gymnasium environment whose child died does: with
// an *envs.Failure panic. It counts the Closes of its family.
type failingCorridor struct {
	*Corridor
	at, steps int
	closed    *int
}

func (f *failingCorridor) Step(a []float64) (float64, bool, bool) {
	f.steps++
	if f.steps == f.at {
		panic(&envs.Failure{Err: errors.New("the stand-in child died")})
	}
	return f.Corridor.Step(a)
}

func (f *failingCorridor) Close() error {
	*f.closed++
	return nil
}

// failingRegistry registers "custom/failing": the k-th environment made
// (0 the one the registry makes to read its traits, 1 the training one)
// fails at failAt[k]-th step; made and closed count.
func failingRegistry(t *testing.T, failAt map[int]int, made, closed *int) *registry.Registry {
	t.Helper()
	reg := registry.Builtin()
	err := reg.Register(registry.Entry{Name: "custom/failing", Description: "a corridor that fails",
		New: func(envs.Options) (envs.Simulator, error) {
			f := &failingCorridor{Corridor: NewCorridor(8), at: failAt[*made], closed: closed}
			*made++
			return f, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func failingConfig(t *testing.T) agent.Config {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps, cfg.SeedSteps = "custom/failing", 300, 100
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = 200, 2, 100
	return cfg
}

// TestEnvFailureStopsTrainWithCheckpoint fails the training environment,
// then an evaluation's: Train returns the failure after a checkpoint of
// the steps before it, and the run resumes from there.
func TestEnvFailureStopsTrainWithCheckpoint(t *testing.T) {
	tests := []struct {
		name   string
		failAt map[int]int
		step   int // where Train stops
	}{
		{"training env", map[int]int{1: 150}, 149},
		{"evaluation env", map[int]int{2: 3}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var made, closed int
			reg := failingRegistry(t, tt.failAt, &made, &closed)
			dir := t.TempDir()
			run, err := agent.New(failingConfig(t), dir, agent.WithRegistry(reg))
			if err != nil {
				t.Fatal(err)
			}
			err = run.Train(context.Background())
			var f *envs.Failure
			if !errors.As(err, &f) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Train: %v, want one line wrapping the *envs.Failure", err)
			}
			for _, want := range []string{"env custom/failing failed at env step", "the stand-in child died", "checkpoint", "--resume"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			ck, err := agent.Checkpoints(dir)
			if err != nil || len(ck) == 0 {
				t.Fatalf("no checkpoint: %v", err)
			}
			if got, want := filepath.Base(ck[len(ck)-1]), fmt.Sprintf("ckpt-%010d.ckpt", tt.step); got != want {
				t.Errorf("newest checkpoint %s, want %s", got, want)
			}
			run.Close()
			resumed, err := agent.Open(dir, agent.WithRegistry(reg))
			if err != nil {
				t.Fatal(err)
			}
			if resumed.EnvSteps() != tt.step {
				t.Errorf("resumed at step %d, want %d", resumed.EnvSteps(), tt.step)
			}
			if err := resumed.Train(context.Background()); err != nil {
				t.Fatalf("resumed Train: %v", err)
			}
			resumed.Close()
			if closed != made {
				t.Errorf("%d environments made, %d closed", made, closed)
			}
		})
	}
}

// TestEnvFailureInEvaluateAndCalibration checks that EvaluateContext and
// HeldOutCalibration return an environment's failure as their error and
// close the environment.
func TestEnvFailureInEvaluateAndCalibration(t *testing.T) {
	var made, closed int
	failAt := map[int]int{}
	reg := failingRegistry(t, failAt, &made, &closed)
	cfg := failingConfig(t)
	cfg.Steps, cfg.SeedSteps, cfg.EvalEvery = 120, 100, 120
	run, err := agent.New(cfg, t.TempDir(), agent.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	var f *envs.Failure
	failAt[made] = 2
	if _, err := run.EvaluateContext(context.Background(), 3, 7, nil); !errors.As(err, &f) {
		t.Errorf("EvaluateContext: %v, want the failure", err)
	}
	failAt[made] = 2
	if _, err := run.HeldOutCalibration(2, 9); !errors.As(err, &f) {
		t.Errorf("HeldOutCalibration: %v, want the failure", err)
	}
	run.Close()
	if closed != made {
		t.Errorf("%d environments made, %d closed", made, closed)
	}
}
