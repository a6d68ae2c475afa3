package agent

import (
	"context"
	"errors"
	"math"
	"testing"
)

func TestHeldOutCalibration(t *testing.T) {
	for _, dyn := range []string{"gaussian", "deterministic"} {
		t.Run(dyn, func(t *testing.T) {
			cfg := debugConfig(t, "gridworld/frozenlake-4x4", 200)
			cfg.Model.Dynamics = dyn
			run, err := New(cfg, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			before := run.Evaluate(3, 77, nil)
			const episodes = 4
			c, err := run.HeldOutCalibration(episodes, 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			// Every episode has at least one transition; FrozenLake's
			// 100-step limit bounds them.
			if c.N < episodes || c.N > episodes*100 {
				t.Errorf("%d transitions from %d episodes", c.N, episodes)
			}
			for name, v := range map[string]float64{"within 1σ": c.Within1, "within 2σ": c.Within2, "ECE": c.ECE} {
				if !(v >= 0 && v <= 1) {
					t.Errorf("%s = %g, want a share in [0, 1]", name, v)
				}
			}
			if c.Within2 < c.Within1 || math.IsNaN(c.NLLPerDim) || math.IsInf(c.NLLPerDim, 0) {
				t.Errorf("calibration %+v", c)
			}
			again, err := run.HeldOutCalibration(episodes, 1<<40)
			if err != nil || again != c {
				t.Errorf("a second call gave %+v (%v), want %+v", again, err, c)
			}
			other, _ := run.HeldOutCalibration(episodes, 5)
			if other == c {
				t.Errorf("other seeds gave the same calibration %+v", c)
			}
			if after := run.Evaluate(3, 77, nil); after != before {
				t.Errorf("the calibration changed the run: evaluation %+v, then %+v", before, after)
			}
		})
	}
	run, err := New(debugConfig(t, "physics/cartpole", 100), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.HeldOutCalibration(0, 1); !errors.Is(err, ErrConfig) {
		t.Errorf("0 episodes: error %v, want ErrConfig", err)
	}
}
