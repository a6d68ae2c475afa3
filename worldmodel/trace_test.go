package worldmodel

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestTrainStepTraced checks that tracing a step changes nothing in it
// (the same metrics and the same model file as TrainStep's from the same
// state and generator) and that the trace's terms make up its total:
//
//	Total = (1−λ)·(Prediction − c·Entropy) + λ·Guard
//	        + c_r·Reward + c_c·Cont + c_v·(Value + ActionValue + Quantile)
func TestTrainStepTraced(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"gaussian-lambda", func(c *Config) {}},
		{"mixture-q-advantage-expectile", func(c *Config) {
			c.Dynamics, c.ValueTarget, c.QHead, c.ValueExpectile = DynamicsMixture, ValueQ, QHeadAdvantage, 0.7
			c.AverageTau, c.ValueWeight = 0.99, 50
		}},
		{"deterministic-quantiles", func(c *Config) {
			c.Dynamics, c.ValueTarget, c.QQuantiles = DynamicsDeterministic, ValueQ, 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := Preset("debug")
			tc.mod(&cfg)
			sys := newLinearSystem(3, 2, 0.1, 0, rand.New(rand.NewPCG(1, 2)))
			spec := Spec{ObsDim: 3, ActionDim: 2, Discrete: true}
			var files [2]bytes.Buffer
			var mets [2]Metrics
			var tr StepTrace
			for i := range 2 {
				rng := rand.New(rand.NewPCG(5, 6))
				m, err := New(cfg, spec, rng)
				if err != nil {
					t.Fatal(err)
				}
				b := sys.batch(4, cfg.Horizon, rng)
				if i == 0 {
					mets[i], err = m.TrainStep(b, rng)
				} else {
					mets[i], err = m.TrainStepTraced(b, rng, &tr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.WriteTo(&files[i]); err != nil {
					t.Fatal(err)
				}
			}
			if mets[0] != mets[1] || !bytes.Equal(files[0].Bytes(), files[1].Bytes()) {
				t.Errorf("traced step differs: metrics %+v, untraced %+v (files equal: %v)", mets[1], mets[0], bytes.Equal(files[0].Bytes(), files[1].Bytes()))
			}
			c := cfg.WithDefaults()
			_, bonus := c.mixtureOptions()
			lam := c.GuardWeight
			want := (1-lam)*(tr.Prediction-bonus*tr.Entropy) + lam*tr.Guard +
				c.RewardWeight*tr.Reward + c.ContWeight*tr.Cont + c.ValueWeight*(tr.Value+tr.ActionValue+tr.Quantile)
			// The graph sums float32 terms: a few ulp of the largest.
			if math.Abs(tr.Total-want) > 1e-6*max(1, math.Abs(want)) {
				t.Errorf("total %.9g, terms make %.9g", tr.Total, want)
			}
			if tr.Total != mets[1].Total || tr.GradNorm != mets[1].GradNorm || tr.Guard != mets[1].Guard {
				t.Errorf("trace %+v disagrees with the metrics %+v", tr, mets[1])
			}
			if (c.Dynamics == DynamicsMixture) != (tr.Entropy > 0) {
				t.Errorf("entropy %g for dynamics %s", tr.Entropy, c.Dynamics)
			}
			if (c.ValueTarget == ValueQ) != (tr.ActionValueTargets != nil) || (c.QQuantiles > 0) != (tr.Quantile > 0) {
				t.Errorf("action-value targets %v, quantile loss %g for %s with %d quantiles", tr.ActionValueTargets, tr.Quantile, c.ValueTarget, c.QQuantiles)
			}
			d, m := c.LatentDim, c.SIGRegDirections
			if len(tr.Directions) != d*m {
				t.Fatalf("%d directions' values, want %d×%d", len(tr.Directions), d, m)
			}
			for j := range m {
				var sq float64
				for i := range d {
					sq += float64(tr.Directions[i*m+j]) * float64(tr.Directions[i*m+j])
				}
				if math.Abs(sq-1) > 1e-5 {
					t.Errorf("direction %d has squared norm %g", j, sq)
				}
			}
			if rows := 4 * c.Horizon; len(tr.ValueTargets) != rows || len(tr.ValueWeights) != rows {
				t.Errorf("%d value targets and %d weights, want %d", len(tr.ValueTargets), len(tr.ValueWeights), rows)
			}
		})
	}
}
