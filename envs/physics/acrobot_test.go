package physics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// acrobotRef is AcrobotEnv.step of gymnasium/envs/classic_control/
// acrobot.py transcribed line by line (book dynamics, no torque noise):
// the state augmented with the torque, rk4 over t = [0, dt], then wrap and
// bound. Constants are variables so that every operation rounds to
// float64 as in Python. It returns the next state and terminated.
func acrobotRef(s [4]float64, a int) ([4]float64, bool) {
	dt := 0.2
	pi := math.Pi
	four, nine := 4.0, 9.0
	maxVel1 := four * pi
	maxVel2 := nine * pi
	availTorque := []float64{-1.0, 0.0, +1}

	dsdt := func(sAugmented []float64) []float64 {
		m1 := 1.0
		m2 := 1.0
		l1 := 1.0
		lc1 := 0.5
		lc2 := 0.5
		I1 := 1.0
		I2 := 1.0
		g := 9.8
		a := sAugmented[len(sAugmented)-1]
		s := sAugmented[:len(sAugmented)-1]
		theta1 := s[0]
		theta2 := s[1]
		dtheta1 := s[2]
		dtheta2 := s[3]
		d1 := m1*math.Pow(lc1, 2) + m2*(math.Pow(l1, 2)+math.Pow(lc2, 2)+2*l1*lc2*math.Cos(theta2)) + I1 + I2
		d2 := m2*(math.Pow(lc2, 2)+l1*lc2*math.Cos(theta2)) + I2
		phi2 := m2 * lc2 * g * math.Cos(theta1+theta2-pi/2.0)
		phi1 := -m2*l1*lc2*math.Pow(dtheta2, 2)*math.Sin(theta2) -
			2*m2*l1*lc2*dtheta2*dtheta1*math.Sin(theta2) +
			(m1*lc1+m2*l1)*g*math.Cos(theta1-pi/2) +
			phi2
		ddtheta2 := (a + d2/d1*phi1 - m2*l1*lc2*math.Pow(dtheta1, 2)*math.Sin(theta2) - phi2) /
			(m2*math.Pow(lc2, 2) + I2 - math.Pow(d2, 2)/d1)
		ddtheta1 := -(d2*ddtheta2 + phi1) / d1
		return []float64{dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0}
	}
	// rk4(derivs, y0, t) with t = [0, dt]: one step.
	rk4 := func(derivs func([]float64) []float64, y0 []float64, t []float64) []float64 {
		add := func(y []float64, h float64, k []float64) []float64 {
			out := make([]float64, len(y))
			for i := range y {
				out[i] = y[i] + h*k[i]
			}
			return out
		}
		this := t[0]
		dt := t[1] - this
		dt2 := dt / 2.0
		k1 := derivs(y0)
		k2 := derivs(add(y0, dt2, k1))
		k3 := derivs(add(y0, dt2, k2))
		k4 := derivs(add(y0, dt, k3))
		yout := make([]float64, len(y0))
		for i := range y0 {
			yout[i] = y0[i] + dt/6.0*(k1[i]+2*k2[i]+2*k3[i]+k4[i])
		}
		return yout[:4]
	}
	wrap := func(x, m, M float64) float64 {
		diff := M - m
		for x > M {
			x = x - diff
		}
		for x < m {
			x = x + diff
		}
		return x
	}
	bound := func(x, m, M float64) float64 { return math.Min(math.Max(x, m), M) }

	torque := availTorque[a]
	sAugmented := append(append([]float64(nil), s[:]...), torque)
	ns := rk4(dsdt, sAugmented, []float64{0, dt})
	ns[0] = wrap(ns[0], -pi, pi)
	ns[1] = wrap(ns[1], -pi, pi)
	ns[2] = bound(ns[2], -maxVel1, maxVel1)
	ns[3] = bound(ns[3], -maxVel2, maxVel2)
	terminated := -math.Cos(ns[0])-math.Cos(ns[1]+ns[0]) > 1.0
	return [4]float64{ns[0], ns[1], ns[2], ns[3]}, terminated
}

// TestAcrobotMatchesReference runs 200 steps of a fixed random action
// sequence from several states (some spinning fast enough to wrap and to
// hit the velocity bounds) and compares with the transcription of
// Gymnasium's step.
func TestAcrobotMatchesReference(t *testing.T) {
	const steps, tol = 200, 1e-9
	tests := []struct {
		name  string
		state [4]float64
	}{
		{"rest", [4]float64{0, 0, 0, 0}},
		{"reset-like", [4]float64{0.05, -0.08, 0.02, 0.09}},
		{"swinging", [4]float64{2, -1, 3, -4}},
		{"spinning", [4]float64{-3, 3, 12, -28}},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	actions := make([]int, steps)
	for i := range actions {
		actions[i] = rng.IntN(3)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAcrobot()
			setState(t, a, tt.state[:]...)
			ref := tt.state
			for i, act := range actions {
				r, term, trunc := a.Step([]float64{float64(act)})
				var refTerm bool
				ref, refTerm = acrobotRef(ref, act)
				for j, v := range a.State() {
					if math.Abs(v-ref[j]) > tol*math.Max(1, math.Abs(ref[j])) {
						t.Fatalf("step %d: state %v, reference %v", i+1, a.State(), ref)
					}
				}
				refR := -1.0
				if refTerm {
					refR = 0
				}
				if r != refR || term != refTerm || trunc {
					t.Fatalf("step %d: reward %v terminated %v truncated %v; want %v %v false", i+1, r, term, trunc, refR, refTerm)
				}
			}
		})
	}
}

// TestAcrobotEpisodeEnd checks termination (free end above one link length
// over the pivot, reward 0) and truncation at 500 steps.
func TestAcrobotEpisodeEnd(t *testing.T) {
	a := NewAcrobot()
	// Both links straight up: −cos π − cos 2π = 2 > 1.
	setState(t, a, math.Pi, 0, 0, 0)
	if r, term, trunc := a.Step([]float64{1}); r != 0 || !term || trunc {
		t.Errorf("from upright: reward %v terminated %v truncated %v, want 0 true false", r, term, trunc)
	}
	// Hanging still with no torque: never terminates.
	setState(t, a, 0, 0, 0, 0)
	for i := 1; i <= AcrobotMaxSteps; i++ {
		r, term, trunc := a.Step([]float64{1})
		if r != -1 || term || trunc != (i == AcrobotMaxSteps) {
			t.Fatalf("step %d: reward %v terminated %v truncated %v", i, r, term, trunc)
		}
	}
}
