package physics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// mountainCarRef is MountainCarEnv.step of gymnasium/envs/classic_control/
// mountain_car.py transcribed line by line. It returns the next state and
// terminated.
func mountainCarRef(state [2]float64, action int) ([2]float64, bool) {
	minPosition := -1.2
	maxPosition := 0.6
	maxSpeed := 0.07
	goalPosition := 0.5
	goalVelocity := 0.0
	force := 0.001
	gravity := 0.0025
	npClip := func(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

	position, velocity := state[0], state[1]
	velocity += float64(action-1)*force + math.Cos(3*position)*(-gravity)
	velocity = npClip(velocity, -maxSpeed, maxSpeed)
	position += velocity
	position = npClip(position, minPosition, maxPosition)
	if position == minPosition && velocity < 0 {
		velocity = 0
	}
	terminated := position >= goalPosition && velocity >= goalVelocity
	return [2]float64{position, velocity}, terminated
}

// TestMountainCarMatchesReference runs 200 steps of a fixed random action
// sequence (biased to rock the car so that it meets both walls) from
// several states and compares with the transcription of Gymnasium's step.
func TestMountainCarMatchesReference(t *testing.T) {
	const steps, tol = 200, 1e-12
	tests := []struct {
		name  string
		state [2]float64
	}{
		{"bottom", [2]float64{-math.Pi / 6, 0}},
		{"reset-like", [2]float64{-0.45, 0}},
		{"left wall", [2]float64{-1.15, -0.06}},
		{"fast right", [2]float64{0.2, 0.07}},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	actions := make([]int, steps)
	for i := range actions {
		// Mostly follow the velocity's sign, so the car swings up.
		actions[i] = rng.IntN(3)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMountainCar()
			setState(t, m, tt.state[:]...)
			ref := tt.state
			for i, a := range actions {
				if ref[1] != 0 && rng.Float64() < 0.8 {
					a = 1 + int(math.Copysign(1, ref[1]))
				}
				r, term, trunc := m.Step([]float64{float64(a)})
				var refTerm bool
				ref, refTerm = mountainCarRef(ref, a)
				for j, v := range m.State() {
					if math.Abs(v-ref[j]) > tol {
						t.Fatalf("step %d: state %v, reference %v", i+1, m.State(), ref)
					}
				}
				if r != -1 || term != refTerm || trunc != (i+1 == MountainCarMaxSteps) {
					t.Fatalf("step %d: reward %v terminated %v truncated %v; want -1 %v %v", i+1, r, term, trunc, refTerm, i+1 == MountainCarMaxSteps)
				}
			}
		})
	}
}

// TestMountainCarHandSteps checks single steps worked out by hand with
// v' = clip(v + (a−1)·0.001 − 0.0025 cos 3x, ±0.07), x' = clip(x + v',
// −1.2, 0.6).
func TestMountainCarHandSteps(t *testing.T) {
	const tol = 1e-15
	tests := []struct {
		name   string
		state  []float64
		action float64
		want   []float64
		term   bool
	}{
		// At the valley's bottom cos 3x = cos(−π/2) ≈ 0: v' = 0.001.
		{"push right at bottom", []float64{-math.Pi / 6, 0}, 2, []float64{-math.Pi/6 + 0.001, 0.001}, false},
		// 0.07 + 0.001 is clipped to 0.07.
		{"speed clipped", []float64{-math.Pi / 6, 0.07}, 2, []float64{-math.Pi/6 + 0.07, 0.07}, false},
		// x + v' < −1.2: the car stops at the wall.
		{"left wall", []float64{-1.19, -0.05}, 0, []float64{-1.2, 0}, false},
		// Past the flag moving right.
		{"goal", []float64{0.49, 0.02}, 2, []float64{0.49 + 0.021 - 0.0025*math.Cos(1.47), 0.021 - 0.0025*math.Cos(1.47)}, true},
		// Past the flag but moving left: not terminated.
		{"goal moving left", []float64{0.6, -0.0001}, 0, []float64{0.6 - 0.0011 - 0.0025*math.Cos(1.8), -0.0011 - 0.0025*math.Cos(1.8)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMountainCar()
			setState(t, m, tt.state...)
			r, term, trunc := m.Step([]float64{tt.action})
			for i, v := range m.State() {
				if math.Abs(v-tt.want[i]) > tol {
					t.Fatalf("state %v, want %v", m.State(), tt.want)
				}
			}
			if r != -1 || term != tt.term || trunc {
				t.Errorf("reward %v terminated %v truncated %v; want -1 %v false", r, term, trunc, tt.term)
			}
		})
	}
}
