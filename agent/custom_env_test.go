package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// corridorRegistry is the built-ins and "custom/corridor", the Corridor
// of the example.
func corridorRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg := registry.Builtin()
	err := reg.Register(registry.Entry{
		Name: "custom/corridor", Description: "an 8-cell corridor", Success: true,
		New: func(envs.Options) (envs.Simulator, error) { return NewCorridor(8), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestCustomRegistryRun trains on an environment of a registry other than
// the built-ins, interrupts the run, and checks that everything that makes
// or looks up the environment again (config validation, Open, Evaluate,
// HeldOutCalibration, NewImaginer) uses the registry given and that
// without it the run's environment is unknown.
func TestCustomRegistryRun(t *testing.T) {
	reg := corridorRegistry(t)
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps, cfg.SeedSteps = "custom/corridor", 400, 100
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = 200, 2, 100

	unknown := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, registry.ErrUnknown) {
			t.Errorf("%s without the registry: err = %v, want one wrapping registry.ErrUnknown", what, err)
		}
	}
	if err := cfg.ValidateIn(reg); err != nil {
		t.Errorf("ValidateIn: %v", err)
	}
	err = cfg.Validate()
	unknown("Validate", err)
	if !errors.Is(err, agent.ErrConfig) {
		t.Errorf("Validate: err = %v, want one wrapping ErrConfig", err)
	}
	_, err = agent.New(cfg, t.TempDir())
	unknown("New", err)

	dir := t.TempDir()
	run, err := agent.New(cfg, dir, agent.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run.Progress = func(s agent.Status) {
		if s.EnvSteps >= 150 {
			cancel()
		}
	}
	if err := run.Train(ctx); !errors.Is(err, agent.ErrInterrupted) {
		t.Fatalf("Train after cancel: %v, want ErrInterrupted", err)
	}
	stopped := run.EnvSteps()

	_, err = agent.LoadConfig(dir)
	unknown("LoadConfig", err)
	_, err = agent.Open(dir)
	unknown("Open", err)
	if c, err := agent.LoadConfig(dir, agent.WithRegistry(reg)); err != nil || c.Env != "custom/corridor" {
		t.Fatalf("LoadConfig with the registry: env %q, %v", c.Env, err)
	}

	resumed, err := agent.Open(dir, agent.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if resumed.EnvSteps() != stopped {
		t.Errorf("resumed at step %d, want %d", resumed.EnvSteps(), stopped)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The corridor reports successes: an evaluation that has a goal ran
	// on it, not on a built-in.
	if ev := resumed.LastEval(); ev.Steps != cfg.Steps || ev.Episodes != 2 || !ev.HasGoal {
		t.Errorf("last evaluation %+v, want %d episodes at step %d with a goal", ev, 2, cfg.Steps)
	}
	// Three episodes: the worst tenth is the lowest one, no better than
	// the mean.
	if ev := resumed.Evaluate(3, 1, nil); ev.Episodes != 3 || !ev.HasGoal || ev.Worst10 > ev.Return+1e-12 {
		t.Errorf("Evaluate: %+v", ev)
	}
	if _, err := resumed.HeldOutCalibration(1, 5); err != nil {
		t.Errorf("HeldOutCalibration: %v", err)
	}

	_, err = agent.OpenTrained(dir)
	unknown("OpenTrained", err)
	trained, err := agent.OpenTrained(dir, agent.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if trained.EnvSteps() != cfg.Steps {
		t.Errorf("trained run opened at step %d, want %d", trained.EnvSteps(), cfg.Steps)
	}
	if _, err := agent.NewImaginer(trained, 1); err != nil {
		t.Errorf("NewImaginer: %v", err)
	}
}
