package worldmodel

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestActionValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, batch := testModel(t, func(c *Config) { c.ValueTarget = ValueQ }, false, 30, rng)
	if !m.HasActionValue() {
		t.Fatal("a model with value_target q has no action value")
	}
	d, A := m.LatentDim(), m.ActionDim()

	t.Run("value targets are the greedy action value", func(t *testing.T) {
		b := batch(6, 2)
		rows := b.K * b.B
		x := make([]float32, (b.K+1)*b.B*m.standardLen())
		m.standardize(x, b.Obs, (b.K+1)*b.B)
		dst := make([]float32, rows)
		valid := make([]float32, rows)
		for i := range valid {
			valid[i] = 1
		}
		m.valueTargets(dst, b, x, nil, valid, rng)
		z := make([]float32, rows*d)
		m.Encode(z, b.Obs, rows)
		q := make([]float32, 1)
		differs := false
		for i := 0; i < rows; i++ {
			best, worst := math.Inf(-1), math.Inf(1)
			for a := 0; a < A; a++ {
				act := make([]float32, A)
				act[a] = 1
				m.ActionValue(q, z[i*d:(i+1)*d], act, 1)
				best, worst = math.Max(best, float64(q[0])), math.Min(worst, float64(q[0]))
			}
			if !near(float64(dst[i]), best, 1e-5) {
				t.Fatalf("row %d: target %g, want max_a q %g", i, dst[i], best)
			}
			differs = differs || best-worst > 1e-4
		}
		if !differs {
			t.Error("the actions' values never differ: the check has no power")
		}
	})

	t.Run("expectile targets are the logged actions' values", func(t *testing.T) {
		const tau = 0.8
		m.cfg.ValueExpectile = tau
		defer func() { m.cfg.ValueExpectile = 0 }()
		b := batch(6, 2)
		rows := b.K * b.B
		z := make([]float32, rows*d)
		m.Encode(z, b.Obs, rows)
		dst := make([]float32, rows)
		m.latentValueTargets(dst, slices.Clone(z), b.Actions, rows, rng)
		q := make([]float32, rows)
		m.ActionValue(q, z, b.Actions[:rows*A], rows)
		v := make([]float32, rows)
		m.Value(v, z, rows)
		w := make([]float32, rows)
		for i := range w {
			w[i] = 2
		}
		m.expectileWeights(w, dst, z, rows)
		var above, below int
		for i := range rows {
			if dst[i] != q[i] {
				t.Fatalf("row %d: target %g, want q at the logged action %g", i, dst[i], q[i])
			}
			want := float32(2 * tau)
			if dst[i] < v[i] {
				want, below = float32(2*(1-tau)), below+1
			} else {
				above++
			}
			if !near(float64(w[i]), float64(want), 1e-6) {
				t.Errorf("row %d: target %g, value %g: weight %g, want %g", i, dst[i], v[i], w[i], want)
			}
		}
		if above == 0 || below == 0 {
			t.Errorf("%d targets above the value and %d below: the check has no power", above, below)
		}
	})

	t.Run("action value targets are one-step returns", func(t *testing.T) {
		const v = 2.0
		clear(m.tval.out.w.data)
		m.tval.out.b.data[0] = v
		B, K := 2, 2
		b := batch(B, K)
		b.Rewards = []float32{1, 2, 3, 4}
		b.Terminated = []float32{0, 1, 0, 0}
		dst := make([]float32, K*B)
		m.nStepReturns(dst, b, make([]float32, K*B*d), 1)
		g := m.cfg.Discount
		want := []float64{1 + g*v, 2, 3 + g*v, 4 + g*v}
		for i := range want {
			if !near(float64(dst[i]), want[i], 1e-6) {
				t.Errorf("target %d = %g, want %g", i, dst[i], want[i])
			}
		}
	})

	for _, form := range []string{QHeadDirect, QHeadAdvantage} {
		for _, net := range []string{QNetTrunk, QNetOwn} {
			t.Run("training fits the action value/"+form+"/"+net, func(t *testing.T) {
				fitsActionValue(t, form, net)
			})
		}
	}

	t.Run("rows sharing a latent", func(t *testing.T) {
		// A planner's first step asks for many rows of one latent and a
		// few actions, which ActionValue computes once per action: each
		// row must read as it does alone.
		// Rows read as they do alone, in either form of the same weights
		// and with q's own network.
		check := func(name string, m *Model) {
			b := batch(1, 1)
			const rows = 32
			z := make([]float32, rows*d)
			acts := make([]float32, rows*A)
			m.Encode(z[:d], b.Obs, 1)
			for i := range rows {
				copy(z[i*d:], z[:d])
				acts[i*A+(i*7)%A] = 1
			}
			q := make([]float32, rows)
			m.ActionValue(q, z, acts, rows)
			one := make([]float32, 1)
			for i := range rows {
				m.ActionValue(one, z[i*d:(i+1)*d], acts[i*A:(i+1)*A], 1)
				if !near(float64(q[i]), float64(one[0]), 1e-5) {
					t.Fatalf("%s: row %d reads %g among %d rows, %g alone", name, i, q[i], rows, one[0])
				}
			}
		}
		for _, form := range []string{QHeadDirect, QHeadAdvantage} {
			m.cfg.QHead = form
			check(form, m)
		}
		m.cfg.QHead = QHeadDirect
		own, _ := testModel(t, func(c *Config) { c.ValueTarget, c.QHead, c.QNet = ValueQ, QHeadAdvantage, QNetOwn }, false, 0, rng)
		check("own q network", own)
	})

	t.Run("save and load keep it", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		m2, err := New(m.Config(), m.Spec(), rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m2.ReadFrom(&buf); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m2.pred.q.w.data, m.pred.q.w.data) {
			t.Error("the action value's weights differ after a round trip")
		}
	})

	t.Run("absent", func(t *testing.T) {
		m, _ := testModel(t, nil, false, 0, rng)
		if m.HasActionValue() {
			t.Fatal("a model with value_target lambda has an action value")
		}
		defer func() {
			if recover() == nil {
				t.Error("ActionValue without an action value did not panic")
			}
		}()
		m.ActionValue(make([]float32, 1), make([]float32, d), make([]float32, A), 1)
	})
}

// fitsActionValue checks that training fits an action value of the form
// qHead on the network qNet: with a reward of +1 for action 0 and −1 for action 1, after
// training q(z_j, a_j) at the replay latents explains most of the
// variance of its targets r_j + γ(1−d_j)V̄(z̄_{j+1}).
func fitsActionValue(t *testing.T, qHead, qNet string) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, raw := testModel(t, func(c *Config) { c.ValueTarget, c.QHead, c.QNet = ValueQ, qHead, qNet }, false, 0, rng)
	d, A := m.LatentDim(), m.ActionDim()
	batch := func(B, K int) *Batch {
		b := raw(B, K)
		for i := range b.Rewards {
			b.Rewards[i] = 1 - 2*b.Actions[i*A+1]
		}
		return b
	}
	for i := 0; i < 300; i++ {
		if _, err := m.TrainStep(batch(16, m.cfg.Horizon), rng); err != nil {
			t.Fatal(err)
		}
	}
	B, K := 256, 1
	b := batch(B, K)
	zbar := make([]float32, B*d)
	m.encodeWith(m.tenc, zbar, b.Obs[B*m.InputDim():], B)
	target := make([]float32, B)
	m.nStepReturns(target, b, zbar, 1)
	z := make([]float32, B*d)
	m.Encode(z, b.Obs, B)
	q := make([]float32, B)
	m.ActionValue(q, z, b.Actions, B)
	mean := 0.0
	for _, v := range target {
		mean += float64(v) / float64(B)
	}
	ss, se := 0.0, 0.0
	for i := range target {
		ss += (float64(target[i]) - mean) * (float64(target[i]) - mean)
		se += (float64(target[i]) - float64(q[i])) * (float64(target[i]) - float64(q[i]))
	}
	if r2 := 1 - se/ss; !(r2 > 0.5) {
		t.Errorf("action value explains %.2f of its targets' variance, want > 0.5", r2)
	}
}

// TestQHeadAdvantage checks the advantage form of the action value: q is
// the head's output plus the value, so that a state's value moves the q
// of every action with it, and a model file of the other form is refused.
// (TestGradient's advantage cases check that the action value's loss
// does not train the value; TestInferenceMatchesGraph that the graph's q
// is ActionValue's.)
func TestQHeadAdvantage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, batch := testModel(t, func(c *Config) { c.ValueTarget, c.QHead = ValueQ, QHeadAdvantage }, false, 20, rng)
	d, A := m.LatentDim(), m.ActionDim()
	b := batch(8, 1)
	rows := b.B * A
	z := make([]float32, b.B*d)
	m.Encode(z, b.Obs, b.B)
	za := make([]float32, rows*d)
	acts := make([]float32, rows*A)
	for i := range b.B {
		for a := range A {
			copy(za[(i*A+a)*d:], z[i*d:(i+1)*d])
			acts[(i*A+a)*A+a] = 1
		}
	}
	q := make([]float32, rows)
	m.ActionValue(q, za, acts, rows)
	v := make([]float32, rows)
	m.Value(v, za, rows)
	m.cfg.QHead = QHeadDirect // the same weights, the head alone
	head := make([]float32, rows)
	m.ActionValue(head, za, acts, rows)
	m.cfg.QHead = QHeadAdvantage
	spread := 0.0
	for i := range rows {
		if !near(float64(q[i]), float64(head[i]+v[i]), 1e-5) {
			t.Fatalf("row %d: q %g, want head %g + value %g", i, q[i], head[i], v[i])
		}
		spread = math.Max(spread, math.Abs(float64(head[i]-head[i/A*A])))
	}
	if spread < 1e-4 {
		t.Error("the actions' advantages never differ: the check has no power")
	}

	// Raising the value raises every action's q by as much.
	const lift = 0.25
	m.val.out.b.data[0] += lift
	up := make([]float32, rows)
	m.ActionValue(up, za, acts, rows)
	m.val.out.b.data[0] -= lift
	for i := range rows {
		if !near(float64(up[i]-q[i]), lift, 1e-5) {
			t.Fatalf("row %d: q moved by %g with the value raised by %g", i, up[i]-q[i], lift)
		}
	}

	// A model file of the direct form does not load into this one.
	direct, _ := testModel(t, func(c *Config) { c.ValueTarget = ValueQ }, false, 0, rng)
	var buf bytes.Buffer
	if _, err := direct.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadFrom(&buf); !errors.Is(err, ErrArchitecture) {
		t.Errorf("reading a direct q's file = %v, want %v", err, ErrArchitecture)
	}
}

// TestQNetOwn checks the action value's own network: q reads it and not
// the predictor's trunk, the trunk's q is another architecture, and the
// Polyak average follows the network.
func TestQNetOwn(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	mod := func(c *Config) { c.ValueTarget, c.QHead, c.QNet, c.AverageTau = ValueQ, QHeadAdvantage, QNetOwn, 0.5 }
	m, batch := testModel(t, mod, false, 5, rng)
	d, A := m.LatentDim(), m.ActionDim()
	b := batch(6, 1)
	z := make([]float32, b.B*d)
	m.Encode(z, b.Obs, b.B)
	acts := b.Actions[:b.B*A]
	read := func() []float32 {
		q := make([]float32, b.B)
		m.ActionValue(q, z, acts, b.B)
		return q
	}
	q := read()
	moved := func(w []float32) float64 {
		for i := range w {
			w[i] += 0.3
		}
		after := read()
		for i := range w {
			w[i] -= 0.3
		}
		most := 0.0
		for i := range q {
			most = math.Max(most, math.Abs(float64(after[i]-q[i])))
		}
		return most
	}
	if got := moved(m.pred.hidden.w.data); got != 0 {
		t.Errorf("changing the trunk moved q by %g", got)
	}
	if got := moved(m.pred.qHidden.w.data); got < 1e-3 {
		t.Errorf("changing q's own network moved q by %g", got)
	}
	if got := moved(m.pred.q.w.data); got < 1e-3 {
		t.Errorf("changing q's output layer moved q by %g", got)
	}

	// The averaged weights follow the network: after training they differ
	// from their start, and the averaged model reads its own q.
	avg := m.Averaged()
	found := false
	for _, pr := range m.avg.pairs {
		if pr[1] == m.pred.qHidden.w {
			found = true
			if slices.Equal(pr[0].data, pr[1].data) {
				t.Error("the averaged q network equals the trained one after training with average_tau 0.5")
			}
		}
	}
	if !found {
		t.Error("the Polyak average does not follow q's own network")
	}
	qa := make([]float32, b.B)
	avg.ActionValue(qa, z, acts, b.B)
	if slices.Equal(qa, q) {
		t.Error("the averaged weights' q equals the trained weights' q")
	}

	// A model file whose q reads the trunk does not load into this one.
	trunk, _ := testModel(t, func(c *Config) { c.ValueTarget, c.QHead, c.AverageTau = ValueQ, QHeadAdvantage, 0.5 }, false, 0, rng)
	var buf bytes.Buffer
	if _, err := trunk.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadFrom(&buf); !errors.Is(err, ErrArchitecture) {
		t.Errorf("reading a trunk q's file = %v, want %v", err, ErrArchitecture)
	}
}

// TestBonusInReturns checks that a batch's exploration bonus enters the
// replay returns (discounted as the reward it is added to) and nothing
// else: the one-step and three-step returns move by exactly the
// discounted bonuses of their steps, and a wrong length is an ErrBatch.
func TestBonusInReturns(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m, batch := testModel(t, func(c *Config) { c.ValueTarget = ValueQ }, false, 2, rng)
	const B, K = 5, 3
	b := batch(B, K)
	clear(b.Terminated)
	zbar := make([]float32, K*B*m.cfg.LatentDim)
	m.encodeWith(m.tenc, zbar, b.Obs[B*m.spec.InputDim():], K*B)
	gamma := m.cfg.Discount
	for _, n := range []int{1, 3} {
		plain := make([]float32, K*B)
		m.nStepReturns(plain, b, zbar, n)
		b.Bonus = make([]float32, K*B)
		for i := range b.Bonus {
			b.Bonus[i] = 0.1 * float32(i%4+1)
		}
		with := make([]float32, K*B)
		m.nStepReturns(with, b, zbar, n)
		b.Bonus = nil
		for j := 0; j < K; j++ {
			for bi := 0; bi < B; bi++ {
				want, disc := 0.0, 1.0
				for i := 0; i < min(n, K-j); i++ {
					want += disc * 0.1 * float64(((j+i)*B+bi)%4+1)
					disc *= gamma
				}
				got := float64(with[j*B+bi] - plain[j*B+bi])
				if math.Abs(got-want) > 1e-5 {
					t.Errorf("n %d, step %d, row %d: bonus moved the return by %g, want %g", n, j, bi, got, want)
				}
			}
		}
	}
	b.Bonus = make([]float32, K*B-1)
	if _, err := m.TrainStep(b, rng); !errors.Is(err, ErrBatch) {
		t.Errorf("TrainStep with %d bonuses for %d transitions: %v, want ErrBatch", len(b.Bonus), K*B, err)
	}
}
