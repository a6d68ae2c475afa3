package worldmodel

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestSmokeProfTmp(t *testing.T) {
	t.Log(UseFastBLAS())
	rng := rand.New(rand.NewPCG(1, 2))
	g := grid{side: 8, cell: 4}
	cfg, _ := Preset("default")
	m, err := New(cfg, g.spec(), rng)
	if err != nil {
		t.Fatal(err)
	}
	b := g.batch(64, cfg.Horizon, rng)
	start := time.Now()
	for i := 1; i <= 100; i++ {
		if _, err := m.TrainStep(b, rng); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%v per step", time.Since(start)/100)
}
