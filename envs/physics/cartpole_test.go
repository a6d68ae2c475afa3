package physics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// cartPoleRef is CartPoleEnv.step of gymnasium/envs/classic_control/
// cartpole.py transcribed line by line (kinematics_integrator "euler"),
// with its constants as variables so that every operation rounds to
// float64 as in Python. It returns the next state and terminated.
func cartPoleRef(state [4]float64, action int) ([4]float64, bool) {
	gravity := 9.8
	masscart := 1.0
	masspole := 0.1
	totalMass := masspole + masscart
	length := 0.5 // actually half the pole's length
	polemassLength := masspole * length
	forceMag := 10.0
	tau := 0.02
	twelve := 12.0
	thetaThresholdRadians := twelve * 2 * math.Pi / 360
	xThreshold := 2.4

	x, xDot, theta, thetaDot := state[0], state[1], state[2], state[3]
	force := -forceMag
	if action == 1 {
		force = forceMag
	}
	costheta := math.Cos(theta)
	sintheta := math.Sin(theta)

	temp := (force + polemassLength*math.Pow(thetaDot, 2)*sintheta) / totalMass
	thetaacc := (gravity*sintheta - costheta*temp) / (length * (4.0/3.0 - masspole*math.Pow(costheta, 2)/totalMass))
	xacc := temp - polemassLength*thetaacc*costheta/totalMass

	x = x + tau*xDot
	xDot = xDot + tau*xacc
	theta = theta + tau*thetaDot
	thetaDot = thetaDot + tau*thetaacc

	terminated := x < -xThreshold || x > xThreshold || theta < -thetaThresholdRadians || theta > thetaThresholdRadians
	return [4]float64{x, xDot, theta, thetaDot}, terminated
}

// balance is a crude controller that pushes the cart towards the pole's
// lean; it keeps CartPole-v1 up for 500 steps from small start states.
func balance(s []float64) float64 {
	if s[2]+0.5*s[3]+0.05*s[0]+0.2*s[1] > 0 {
		return 1
	}
	return 0
}

// TestCartPoleMatchesReference runs 200 steps of a fixed random action
// sequence from several states and compares every state, reward and flag
// with the transcription of Gymnasium's step.
func TestCartPoleMatchesReference(t *testing.T) {
	const steps, tol = 200, 1e-9
	tests := []struct {
		name  string
		state [4]float64
	}{
		{"rest", [4]float64{0, 0, 0, 0}},
		{"reset-like", [4]float64{0.03, -0.02, 0.04, 0.01}},
		{"moving", [4]float64{-1, 0.5, -0.1, 0.3}},
		{"near edge", [4]float64{2, -1, 0.15, -0.5}},
		{"fallen", [4]float64{0.5, 2, 1.3, -4}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	actions := make([]int, steps)
	for i := range actions {
		actions[i] = rng.IntN(2)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCartPole()
			setState(t, c, tt.state[:]...)
			ref := tt.state
			fallen := false
			for i, a := range actions {
				r, term, trunc := c.Step([]float64{float64(a)})
				var refTerm bool
				ref, refTerm = cartPoleRef(ref, a)
				// Gymnasium's reward: 1, and 1 on the first terminated
				// step, 0 on later ones.
				refReward := 1.0
				if refTerm {
					if fallen {
						refReward = 0
					}
					fallen = true
				}
				for j, v := range c.State() {
					if math.Abs(v-ref[j]) > tol*math.Max(1, math.Abs(ref[j])) {
						t.Fatalf("step %d: state %v, reference %v", i+1, c.State(), ref)
					}
				}
				if term != refTerm || r != refReward || trunc {
					t.Fatalf("step %d: reward %v terminated %v truncated %v; want %v %v false", i+1, r, term, trunc, refReward, refTerm)
				}
			}
		})
	}
}

// TestCartPoleHandSteps checks single steps worked out by hand. From rest
// with θ = 0: sin θ = 0, cos θ = 1, so with F = ±10, M = 1.1, l = 0.5,
// m_p = 0.1:
//
//	temp = F/M = ±100/11
//	θ̈ = −temp / (0.5 (4/3 − 0.1/1.1)) = ∓(100/11)(66/41) = ∓600/41
//	ẍ = temp − 0.05 θ̈ / 1.1 = ±(100/11 + 300/451) = ±400/41
//
// and Euler with τ = 0.02 gives ẋ' = ẋ ± 8/41, θ̇' = θ̇ ∓ 12/41, x' = x +
// τẋ, θ' = θ + τθ̇ (old velocities). With the pole horizontal, θ = π/2,
// θ̇ = 1, F = +10: temp = 10.05/1.1, θ̈ = 9.8/(0.5·4/3) = 14.7, ẍ = temp.
func TestCartPoleHandSteps(t *testing.T) {
	const tol = 1e-12
	tests := []struct {
		name   string
		state  []float64
		action float64
		want   []float64
		term   bool
	}{
		{"rest push right", []float64{0, 0, 0, 0}, 1, []float64{0, 8.0 / 41, 0, -12.0 / 41}, false},
		{"rest push left", []float64{0, 0, 0, 0}, 0, []float64{0, -8.0 / 41, 0, 12.0 / 41}, false},
		{"moving upright", []float64{0.1, 0.2, 0, 0.5}, 1, []float64{0.1 + 0.02*0.2, 0.2 + 8.0/41, 0.02 * 0.5, 0.5 - 12.0/41}, false},
		{"horizontal", []float64{0, 0, math.Pi / 2, 1}, 1, []float64{0, 0.02 * 10.05 / 1.1, math.Pi/2 + 0.02, 1 + 0.02*14.7}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCartPole()
			setState(t, c, tt.state...)
			r, term, trunc := c.Step([]float64{tt.action})
			for i, v := range c.State() {
				if math.Abs(v-tt.want[i]) > tol {
					t.Fatalf("state %v, want %v (component %d off by %.3g)", c.State(), tt.want, i, v-tt.want[i])
				}
			}
			if r != 1 || term != tt.term || trunc {
				t.Errorf("reward %v terminated %v truncated %v; want 1 %v false", r, term, trunc, tt.term)
			}
		})
	}
}

// TestCartPoleTermination checks the thresholds: termination once the
// state after the step is strictly beyond |x| = 2.4 or |θ| = 12°, with
// θ's limit exactly Python's float64 value.
func TestCartPoleTermination(t *testing.T) {
	lim := cartPoleThetaLimit
	tests := []struct {
		name  string
		state []float64
		want  bool
	}{
		{"x at +2.4", []float64{2.4, 0, 0, 0}, false},
		{"x past +2.4", []float64{2.4, 0.01, 0, 0}, true},
		{"x at -2.4", []float64{-2.4, 0, 0, 0}, false},
		{"x past -2.4", []float64{-2.4, -0.01, 0, 0}, true},
		{"θ at +12°", []float64{0, 0, lim, 0}, false},
		{"θ one ulp past +12°", []float64{0, 0, math.Nextafter(lim, 1), 0}, true},
		{"θ at π/15 rounded once", []float64{0, 0, math.Pi / 15, 0}, true},
		{"θ at -12°", []float64{0, 0, -lim, 0}, false},
		{"θ past -12°", []float64{0, 0, -lim, -1e-6}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCartPole()
			setState(t, c, tt.state...)
			// θ' = θ + τθ̇ and x' = x + τẋ do not depend on the action.
			if _, term, _ := c.Step([]float64{0}); term != tt.want {
				t.Errorf("terminated %v after a step from %v, want %v", term, tt.state, tt.want)
			}
		})
	}
}

// TestCartPoleRewardAfterTermination checks Gymnasium's rewards around
// termination: 1 on the terminating step, 0 on steps after it while still
// terminated, 1 again after SetState.
func TestCartPoleRewardAfterTermination(t *testing.T) {
	c := NewCartPole()
	setState(t, c, 2.39, 1, 0, 0)
	want := []struct {
		reward float64
		term   bool
	}{{1, true}, {0, true}, {0, true}}
	for i, w := range want {
		if r, term, _ := c.Step([]float64{1}); r != w.reward || term != w.term {
			t.Fatalf("step %d: reward %v terminated %v, want %v %v", i+1, r, term, w.reward, w.term)
		}
	}
	setState(t, c, 2.39, 1, 0, 0)
	if r, term, _ := c.Step([]float64{1}); r != 1 || !term {
		t.Errorf("after SetState: reward %v terminated %v, want 1 true", r, term)
	}
}

// TestCartPoleTruncation checks the 500-step limit on a balanced episode
// from every one of a few reset seeds.
func TestCartPoleTruncation(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		c := NewCartPole()
		c.Reset(seed)
		for i := 1; i <= CartPoleMaxSteps; i++ {
			_, term, trunc := c.Step([]float64{balance(c.State())})
			if term {
				t.Fatalf("seed %d: the controller let the pole fall at step %d (state %v)", seed, i, c.State())
			}
			if trunc != (i == CartPoleMaxSteps) {
				t.Fatalf("seed %d: step %d truncated %v", seed, i, trunc)
			}
		}
	}
}
