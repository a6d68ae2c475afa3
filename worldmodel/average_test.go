package worldmodel

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// actOutputs is what acting reads from m on the batch's first frames and
// actions: the latents, the predicted means, rewards and continuations,
// the values and the action values.
func actOutputs(m *Model, b *Batch) [][]float32 {
	d, rows := m.cfg.LatentDim, b.B
	z := make([]float32, rows*d)
	m.Encode(z, b.Obs[:rows*m.spec.InputDim()], rows)
	a := b.Actions[:rows*m.spec.ActionDim]
	next, rew, cont := make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
	m.Step(next, rew, cont, z, a, rows, false, nil)
	v, q := make([]float32, rows), make([]float32, rows)
	m.Value(v, z, rows)
	m.ActionValue(q, z, a, rows)
	return [][]float32{z, next, rew, cont, v, q}
}

func TestAveraged(t *testing.T) {
	const tau = 0.9
	rng := rand.New(rand.NewPCG(4, 4))
	m, batch := testModel(t, func(c *Config) { c.ValueTarget, c.AverageTau = ValueQ, tau }, false, 0, rng)
	b := batch(8, m.cfg.Horizon)
	if !sameSnapshot(actOutputs(m.Averaged(), b), actOutputs(m, b)) {
		t.Fatal("before training the average acts unlike the model")
	}
	// Follow the average by hand: θ̄ ← t·θ̄ + (1−t)·θ after each step,
	// t = min(τ, (1+k)/(10+k)) after step k.
	want := make([][]float32, len(m.avg.pairs))
	for i, pr := range m.avg.pairs {
		want[i] = slices.Clone(pr[1].data)
	}
	for k := int64(1); k <= 30; k++ {
		if _, err := m.TrainStep(batch(16, m.cfg.Horizon), rng); err != nil {
			t.Fatal(err)
		}
		w := float32(min(tau, float64(1+k)/float64(10+k)))
		for i, pr := range m.avg.pairs {
			for j, v := range pr[1].data {
				want[i][j] = w*want[i][j] + (1-w)*v
			}
		}
	}
	moved := 0
	for i, pr := range m.avg.pairs {
		for j, v := range pr[0].data {
			if math.Abs(float64(v-want[i][j])) > 1e-5 {
				t.Fatalf("%s[%d] = %g, want %g", pr[0].name, j, v, want[i][j])
			}
			if v != pr[1].data[j] {
				moved++
			}
		}
	}
	if moved == 0 {
		t.Fatal("the average equals the trained weights after 30 steps: the check has no power")
	}

	// The view acts as the model would with the averaged weights in place
	// of its own.
	var file bytes.Buffer
	if _, err := m.WriteTo(&file); err != nil {
		t.Fatal(err)
	}
	swapped, err := decodeModel(file.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range swapped.avg.pairs {
		copy(pr[1].data, pr[0].data)
	}
	got, online := actOutputs(m.Averaged(), b), actOutputs(m, b)
	if !sameSnapshot(got, actOutputs(swapped, b)) {
		t.Fatal("the Averaged view does not act with the averaged weights")
	}
	if sameSnapshot(got, online) {
		t.Fatal("the Averaged view acts as the trained weights do")
	}
	// Taking the view did not change the model.
	if !sameSnapshot(actOutputs(m, b), online) {
		t.Fatal("Averaged changed the model")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("TrainStep on an Averaged view did not panic")
			}
		}()
		m.Averaged().TrainStep(batch(16, m.cfg.Horizon), rng)
	}()

	plain, _ := testModel(t, nil, false, 0, rng)
	if plain.Averaged() != plain {
		t.Error("Averaged of a model without an average is not the model")
	}
}

func TestAverageTauValidates(t *testing.T) {
	for _, tau := range []float64{0, -1, 0.5, 0.9999} {
		if err := (Config{AverageTau: tau}).Validate(); err != nil {
			t.Errorf("average_tau %g: %v", tau, err)
		}
	}
	for _, tau := range []float64{1, 1.5, -0.5, -2, math.NaN(), math.Inf(1)} {
		if err := (Config{AverageTau: tau}).Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("average_tau %g: %v, want ErrConfig", tau, err)
		}
	}
}

// TestValueGreedyAverage checks that value_greedy average regresses the
// value on the online q at the action the averaged q ranks first.
func TestValueGreedyAverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	m, batch := testModel(t, func(c *Config) {
		c.ValueTarget, c.AverageTau, c.ValueGreedy = ValueQ, 0.9, ValueGreedyAverage
	}, false, 20, rng)
	// Move the averaged q away from the online one, so that the two rank
	// the actions differently in some rows.
	for i := range m.avg.pred.q.w.data {
		m.avg.pred.q.w.data[i] += float32(0.5 * rng.NormFloat64())
	}
	d, A := m.LatentDim(), m.ActionDim()
	b := batch(16, 2)
	rows := b.K * b.B
	z := make([]float32, rows*d)
	m.Encode(z, b.Obs, rows)
	dst := make([]float32, rows)
	m.latentValueTargets(dst, slices.Clone(z), b.Actions, rows, rng)
	avg := m.Averaged()
	q, qa := make([]float32, 1), make([]float32, 1)
	notMax := 0
	for i := 0; i < rows; i++ {
		zi := z[i*d : (i+1)*d]
		var want float32
		best, bestAvg := math.Inf(-1), math.Inf(-1)
		for a := 0; a < A; a++ {
			act := make([]float32, A)
			act[a] = 1
			m.ActionValue(q, zi, act, 1)
			avg.ActionValue(qa, zi, act, 1)
			if float64(qa[0]) > bestAvg {
				bestAvg, want = float64(qa[0]), q[0]
			}
			best = math.Max(best, float64(q[0]))
		}
		if !near(float64(dst[i]), float64(want), 1e-5) {
			t.Fatalf("row %d: target %g, want the online q %g at the averaged q's best action", i, dst[i], want)
		}
		if float64(want) < best-1e-5 {
			notMax++
		}
	}
	if notMax == 0 {
		t.Error("the averaged q ranks the online q's best action first in every row: the check has no power")
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.ValueTarget, c.AverageTau, c.ValueGreedy = ValueQ, 0, ValueGreedyAverage },
		func(c *Config) { c.ValueTarget, c.AverageTau, c.ValueGreedy = ValueLambda, 0.9, ValueGreedyAverage },
		func(c *Config) {
			c.ValueTarget, c.AverageTau, c.ValueGreedy, c.ValueExpectile = ValueQ, 0.9, ValueGreedyAverage, 0.7
		},
		func(c *Config) { c.ValueGreedy = "mean" },
	} {
		var c Config
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
}
