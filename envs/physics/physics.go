// Package physics holds dream's classic-control environments, each a
// float64 transcription of its Gymnasium original: the same constants, the
// same equations in the same order, the same integrator, so that a
// trajectory from a given state agrees with Gymnasium's (which keeps its
// state in float64 too) up to the last bits of sin and cos.
//
//   - CartPole: CartPole-v1, gymnasium/envs/classic_control/cartpole.py
//   - Pendulum: Pendulum-v1, gymnasium/envs/classic_control/pendulum.py
//   - Pendulum with gusts: Pendulum-v1 plus random torque gusts
//   - Acrobot: Acrobot-v1, gymnasium/envs/classic_control/acrobot.py
//   - MountainCar: MountainCar-v0, gymnasium/envs/classic_control/mountain_car.py
//
// Each environment is an envs.Simulator and an envs.StateSetter. The time
// limit that Gymnasium's TimeLimit wrapper adds (500 or 200 steps) is part
// of the simulator here: Step reports truncated once the episode has run
// that many steps.
//
// # Randomness
//
// Reset(seed) reseeds a PCG generator private to the environment,
// rand.NewPCG(seed, 0) of math/rand/v2, which draws the start state and
// any random dynamics. The same seed and the same actions give the same
// episode. The start states follow Gymnasium's distributions but not its
// NumPy bit stream.
//
// # Pictures
//
// Render draws Gymnasium's picture (pure Go, no window) scaled to fit the
// destination's bounds and centred in it, on a white background, with
// antialiased edges. Thin parts are drawn at least 1.2 pixels wide so that
// they stay visible at 32×32. The state-independent part of a picture is
// cached per size, so a Step and a Render at 32×32 take one or two
// microseconds and allocate nothing. A simulator is not safe for
// concurrent use.
//
// The arithmetic is exact on amd64, where Go never fuses a multiply and an
// add; where it does (arm64 and others) results may differ in the last
// bits, which can change a golden frame's pixel by one level.
package physics

import (
	"errors"
	"fmt"
	"math"
)

// ErrState reports a state that SetState cannot take: of the wrong length
// or not finite.
var ErrState = errors.New("physics: bad state")

// pcgStream is the second word of every environment's PCG seed.
const pcgStream = 0

// checkState validates a state given to SetState.
func checkState(env string, s []float64, n int) error {
	if len(s) != n {
		return fmt.Errorf("%w: %s state has %d values, want %d", ErrState, env, len(s), n)
	}
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s state[%d] = %v is not finite", ErrState, env, i, v)
		}
	}
	return nil
}

// discrete returns the index in a, which must be an element of
// Discrete(n); anything else is a programmer error.
func discrete(env string, a []float64, n int) int {
	if len(a) != 1 {
		panic(fmt.Sprintf("physics: %s action has %d values, want 1", env, len(a)))
	}
	if v := a[0]; !(v >= 0 && v < float64(n) && v == math.Trunc(v)) {
		panic(fmt.Sprintf("physics: %s action %v is not in Discrete(%d)", env, v, n))
	}
	return int(a[0])
}

// clip returns x limited to [lo, hi], as numpy.clip.
func clip(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
