package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

func TestRouteOnCliffIce(t *testing.T) {
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Obs, cfg.Steps = "gridworld/cliff-ice", "state", 300
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = 300, 1, 300
	dir := filepath.Join(t.TempDir(), "run")
	r, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt, err := route(dir, 6, 1, "cvar:0.5")
	if err != nil {
		t.Fatal(err)
	}
	if rt.Dry+rt.Touched != 6 || rt.Eval.Episodes != 6 || rt.Risk != "cvar:0.5" {
		t.Errorf("route %+v: want 6 episodes split by ice, planned with cvar:0.5", rt)
	}
	var out, errOut bytes.Buffer
	if err := run(nil, &out, &errOut); err == nil {
		t.Error("no run directory taken")
	}
	if err := run([]string{"--episodes", "2", dir}, &out, &errOut); err != nil || !strings.Contains(out.String(), "no ice") {
		t.Errorf("route: %v\n%s", err, out.String())
	}
	if _, err := route(dir, 2, 1, "worst"); err == nil {
		t.Error("a bad risk was taken")
	}
}
