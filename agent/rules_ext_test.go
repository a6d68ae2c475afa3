package agent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// declaringCorridor is a corridor that declares a 300-step time limit,
// finitely many states and a budget.
type declaringCorridor struct{ *Corridor }

func (declaringCorridor) Traits() envs.Traits {
	return envs.Traits{TimeLimit: 300, FiniteStates: true, Budget: 700}
}

// TestRegisteredEnvironmentGetsTheRules checks that an environment a
// program registers gets the defaults its declared traits call for, in
// the run's config.json, as a built-in one would.
func TestRegisteredEnvironmentGetsTheRules(t *testing.T) {
	reg := registry.Builtin()
	err := reg.Register(registry.Entry{Name: "custom/declaring", Description: "a corridor that declares its traits",
		New: func(envs.Options) (envs.Simulator, error) { return declaringCorridor{NewCorridor(6)}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps = "custom/declaring", 0
	dir := filepath.Join(t.TempDir(), "run")
	run, err := agent.New(cfg, dir, agent.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	data, err := os.ReadFile(filepath.Join(dir, agent.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var got agent.Config
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := []any{700, agent.DiscountFor(envs.Traits{TimeLimit: 300, FiniteStates: true}), agent.DiscountFor(envs.Traits{TimeLimit: 300, FiniteStates: true}), 1, 0.3, 50.0}
	have := []any{got.Steps, got.Model.Discount, got.Planner.Discount, got.Model.FrameStack, got.ExploreDirected, got.Model.ValueWeight}
	for i := range want {
		if have[i] != want[i] {
			t.Errorf("config.json: steps, discounts, frame_stack, explore_directed, value_weight = %v, want %v", have, want)
			break
		}
	}
	if agent.DiscountFor(envs.Traits{TimeLimit: 300, FiniteStates: true}) != 0.995 {
		t.Errorf("DiscountFor(300) = %v", agent.DiscountFor(envs.Traits{TimeLimit: 300, FiniteStates: true}))
	}
}
