package physics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// pyMod is Python's float modulo (CPython's float_rem; NumPy's remainder
// does the same): fmod, then shifted to the divisor's sign.
func pyMod(x, y float64) float64 {
	mod := math.Mod(x, y)
	if mod != 0 {
		if (y < 0) != (mod < 0) {
			mod += y
		}
	} else {
		mod = math.Copysign(0, y)
	}
	return mod
}

// pendulumRef is PendulumEnv.step of gymnasium/envs/classic_control/
// pendulum.py transcribed line by line, with its constants as variables
// so that every operation rounds to float64 as in Python. It returns the
// next state and the reward.
func pendulumRef(state [2]float64, action float64) ([2]float64, float64) {
	maxSpeed := 8.0
	maxTorque := 2.0
	dt := 0.05
	g := 10.0
	m := 1.0
	l := 1.0
	angleNormalize := func(x float64) float64 { return pyMod(x+math.Pi, 2*math.Pi) - math.Pi }
	npClip := func(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

	th, thdot := state[0], state[1]
	u := npClip(action, -maxTorque, maxTorque)
	costs := math.Pow(angleNormalize(th), 2) + 0.1*math.Pow(thdot, 2) + 0.001*math.Pow(u, 2)

	newthdot := thdot + (3*g/(2*l)*math.Sin(th)+3.0/(m*math.Pow(l, 2))*u)*dt
	newthdot = npClip(newthdot, -maxSpeed, maxSpeed)
	newth := th + newthdot*dt
	return [2]float64{newth, newthdot}, -costs
}

// TestPendulumMatchesReference runs 200 steps of a fixed random torque
// sequence in [−3, 3] (so that some are clipped) from several states, some
// of which reach the speed limit, and compares every state and reward with
// the transcription of Gymnasium's step.
func TestPendulumMatchesReference(t *testing.T) {
	const steps, tol = 200, 1e-9
	tests := []struct {
		name  string
		state [2]float64
	}{
		{"upright", [2]float64{0, 0}},
		{"hanging", [2]float64{math.Pi, 0.5}},
		{"fast", [2]float64{1, 7.5}},
		{"fast negative", [2]float64{-2.5, -7.9}},
		{"wound up", [2]float64{10, 3}},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	actions := make([]float64, steps)
	for i := range actions {
		actions[i] = -3 + 6*rng.Float64()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPendulum()
			setState(t, p, tt.state[:]...)
			ref := tt.state
			clipped := 0
			for i, a := range actions {
				r, term, trunc := p.Step([]float64{a})
				var refR float64
				ref, refR = pendulumRef(ref, a)
				for j, v := range p.State() {
					if math.Abs(v-ref[j]) > tol*math.Max(1, math.Abs(ref[j])) {
						t.Fatalf("step %d: state %v, reference %v", i+1, p.State(), ref)
					}
				}
				if math.Abs(r-refR) > tol || term || trunc != (i+1 == PendulumMaxSteps) {
					t.Fatalf("step %d: reward %v terminated %v truncated %v; want %v false %v", i+1, r, term, trunc, refR, i+1 == PendulumMaxSteps)
				}
				if math.Abs(ref[1]) == 8 {
					clipped++
				}
			}
			if tt.name == "fast" && clipped == 0 {
				t.Error("the fast start never reached the speed limit; the test does not exercise clipping")
			}
		})
	}
}

// TestPendulumHandSteps checks single steps worked out by hand with
// θ̇' = clip(θ̇ + (15 sin θ + 3u)·0.05, ±8), θ' = θ + 0.05 θ̇', reward
// −(norm(θ)² + 0.1θ̇² + 0.001u²) from the state before the step.
func TestPendulumHandSteps(t *testing.T) {
	const tol = 1e-12
	tests := []struct {
		name         string
		state        []float64
		u            float64
		want         []float64
		reward, last float64
	}{
		// 3·2·0.05 = 0.3; θ' = 0.05·0.3; cost 0.001·4.
		{"upright full torque", []float64{0, 0}, 2, []float64{0.015, 0.3}, -0.004, 2},
		// 15·1·0.05 = 0.75; cost (π/2)².
		{"horizontal falls", []float64{math.Pi / 2, 0}, 0, []float64{math.Pi/2 + 0.0375, 0.75}, -math.Pi * math.Pi / 4, 0},
		// 7.9 + 0.3 = 8.2 is clipped to 8 before θ' = 0 + 8·0.05.
		{"speed clipped", []float64{0, 7.9}, 2, []float64{0.4, 8}, -(0.1*7.9*7.9 + 0.004), 2},
		// −7.95 + (15 sin(−0.5) − 6)·0.05 < −8: clipped to −8.
		{"negative speed clipped", []float64{-0.5, -7.95}, -2, []float64{-0.9, -8}, -(0.25 + 0.1*7.95*7.95 + 0.004), -2},
		// u = 5 is clipped to 2; norm(3π/2) = −π/2; sin(3π/2) = −1:
		// θ̇' = −1 + (−15 + 6)·0.05 = −1.45.
		{"torque clipped, angle wrapped", []float64{3 * math.Pi / 2, -1}, 5, []float64{3*math.Pi/2 - 0.0725, -1.45}, -(math.Pi*math.Pi/4 + 0.1 + 0.004), 2},
		// norm(π) = −π (the range is [−π, π)); sin π ≈ 0: θ̇' = −0.3.
		{"hanging, torque −3", []float64{math.Pi, 0}, -3, []float64{math.Pi - 0.015, -0.3}, -(math.Pi*math.Pi + 0.004), -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPendulum()
			setState(t, p, tt.state...)
			if _, ok := p.LastTorque(); ok {
				t.Fatal("LastTorque reports a torque before the first step")
			}
			r, term, trunc := p.Step([]float64{tt.u})
			for i, v := range p.State() {
				if math.Abs(v-tt.want[i]) > tol {
					t.Fatalf("state %v, want %v (component %d off by %.3g)", p.State(), tt.want, i, v-tt.want[i])
				}
			}
			if math.Abs(r-tt.reward) > tol || term || trunc {
				t.Errorf("reward %v terminated %v truncated %v; want %v false false", r, term, trunc, tt.reward)
			}
			if u, ok := p.LastTorque(); !ok || u != tt.last {
				t.Errorf("LastTorque() = %v, %v; want %v, true", u, ok, tt.last)
			}
			if p.LastGust() != 0 {
				t.Errorf("Pendulum-v1 had a gust %v", p.LastGust())
			}
		})
	}
}

// TestAngleNormalize checks the wrap into [−π, π) against Python's values.
func TestAngleNormalize(t *testing.T) {
	tests := []struct{ x, want, tol float64 }{
		{0, 0, 0},
		{1, 1, 1e-15},
		{-1, -1, 1e-15},
		{math.Pi, -math.Pi, 0},
		{-math.Pi, -math.Pi, 0},
		{3 * math.Pi / 2, -math.Pi / 2, 1e-15},
		{-3 * math.Pi / 2, math.Pi / 2, 1e-15},
		{7, 7 - 2*math.Pi, 1e-15},
		{-20, -20 + 6*math.Pi, 1e-14},
	}
	for _, tt := range tests {
		got := angleNormalize(tt.x)
		if math.Abs(got-tt.want) > tt.tol || got < -math.Pi || got >= math.Pi {
			t.Errorf("angleNormalize(%v) = %.17g, want %.17g ± %g in [−π, π)", tt.x, got, tt.want, tt.tol)
		}
	}
}

// TestPendulumNeverTerminates checks Pendulum-v1's episode end: never
// terminated, truncated at step 200 exactly, whatever the torques.
func TestPendulumNeverTerminates(t *testing.T) {
	for _, p := range []*Pendulum{NewPendulum(), NewPendulumGusty()} {
		p.Reset(11)
		for i := 1; i <= PendulumMaxSteps; i++ {
			u := 2.0
			if i%7 < 3 {
				u = -2
			}
			if _, term, trunc := p.Step([]float64{u}); term || trunc != (i == PendulumMaxSteps) {
				t.Fatalf("gusts %v, step %d: terminated %v truncated %v", p.gustProb, i, term, trunc)
			}
		}
	}
}

// TestPendulumGusts checks the gusts by seeded Monte Carlo. From a fixed
// state (far from the speed limit) the gust is read off the dynamics,
//
//	w = ((θ̇' − θ̇)/dt − 15 sin θ)/3 − u,
//
// and must equal LastGust; over n steps the gust frequency must be p, the
// gust torques N(0, σ²) in mean, variance and P(|w| < σ), and gusts on
// consecutive steps independent (frequency p²), each to within four
// standard errors of its estimate.
func TestPendulumGusts(t *testing.T) {
	const (
		n      = 20000
		th, u  = 0.3, 0.5
		p, sd  = GustProbability, GustStdDev
		within = 0.6826894921370859 // P(|Z| < 1) for Z ~ N(0, 1)
	)
	g := NewPendulumGusty()
	g.Reset(2024)
	var gusts []float64
	pairs, prev := 0, false
	for i := 0; i < n; i++ {
		setState(t, g, th, 0)
		g.Step([]float64{u})
		w := ((g.State()[1]-0)/pendulumDt-15*math.Sin(th))/3 - u
		if math.Abs(w-g.LastGust()) > 1e-9 {
			t.Fatalf("step %d: dynamics imply a gust of %v, LastGust() = %v", i, w, g.LastGust())
		}
		gust := g.LastGust() != 0
		if gust {
			gusts = append(gusts, w)
		}
		if gust && prev {
			pairs++
		}
		prev = gust
	}
	check := func(name string, got, want, se float64) {
		t.Helper()
		if math.Abs(got-want) > 4*se {
			t.Errorf("%s = %.4g, want %.4g ± %.2g", name, got, want, 4*se)
		}
	}
	m := float64(len(gusts))
	check("gust frequency", m/n, p, math.Sqrt(p*(1-p)/n))
	check("consecutive-gust frequency", float64(pairs)/(n-1), p*p, math.Sqrt(p*p*(1-p*p)/(n-1)))
	mean, sq, small := 0.0, 0.0, 0.0
	for _, w := range gusts {
		mean += w
		sq += w * w
		if math.Abs(w) < sd {
			small++
		}
	}
	mean /= m
	check("gust mean", mean, 0, sd/math.Sqrt(m))
	// The variance of a sample variance of a normal is 2σ⁴/m.
	check("gust variance", sq/m-mean*mean, sd*sd, sd*sd*math.Sqrt(2/m))
	check("P(|gust| < σ)", small/m, within, math.Sqrt(within*(1-within)/m))
}

// TestPendulumGustyWithoutGust checks that a gusty step on which no gust
// blew is exactly a Pendulum-v1 step.
func TestPendulumGustyWithoutGust(t *testing.T) {
	g := NewPendulumGusty()
	g.Reset(5)
	calm := 0
	for i := 0; i < 200; i++ {
		before := [2]float64{g.State()[0], g.State()[1]}
		a := math.Sin(float64(i)) * 2.5
		r, _, _ := g.Step([]float64{a})
		if g.LastGust() != 0 {
			continue
		}
		calm++
		want, wantR := pendulumRef(before, a)
		if g.State()[0] != want[0] || g.State()[1] != want[1] || r != wantR {
			t.Fatalf("step %d without gust: state %v reward %v, Pendulum-v1 gives %v %v", i, g.State(), r, want, wantR)
		}
	}
	if calm < 100 {
		t.Errorf("only %d of 200 steps without a gust", calm)
	}
}
