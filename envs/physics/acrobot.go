package physics

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
)

// Acrobot constants, as in gymnasium/envs/classic_control/acrobot.py.
const (
	acrobotDt         = 0.2
	acrobotL1         = 1.0 // length of link 1 (m)
	acrobotL2         = 1.0 // length of link 2 (m)
	acrobotM1         = 1.0 // mass of link 1 (kg)
	acrobotM2         = 1.0 // mass of link 2 (kg)
	acrobotLC1        = 0.5 // position of link 1's centre of mass (m)
	acrobotLC2        = 0.5 // position of link 2's centre of mass (m)
	acrobotMOI        = 1.0 // moment of inertia of both links
	acrobotG          = 9.8
	acrobotMaxVel1    = 4 * math.Pi
	acrobotMaxVel2    = 9 * math.Pi
	acrobotResetBound = 0.1
	// wrapLimit bounds the angles that wrap reduces by Gymnasium's loop.
	wrapLimit = 1e6
)

// AcrobotMaxSteps is Acrobot-v1's time limit.
const AcrobotMaxSteps = 500

// Acrobot is Gymnasium's Acrobot-v1
// (gymnasium/envs/classic_control/acrobot.py; Sutton 1996, and Sutton &
// Barto's book for the dynamics): two links hanging from a fixed pivot,
// with a motor at the joint between them.
//
// The state is s = (θ₁, θ₂, θ̇₁, θ̇₂): link 1's angle from straight down,
// link 2's angle relative to link 1, and their angular velocities. Action
// a ∈ {0, 1, 2} applies the torque τ = a − 1 at the joint. With masses
// m₁ = m₂ = 1, lengths l₁ = 1, centres of mass l_c1 = l_c2 = 0.5, moments
// of inertia I₁ = I₂ = 1 and g = 9.8, the book dynamics are
//
//	d₁  = m₁ l_c1² + m₂ (l₁² + l_c2² + 2 l₁ l_c2 cos θ₂) + I₁ + I₂
//	d₂  = m₂ (l_c2² + l₁ l_c2 cos θ₂) + I₂
//	φ₂  = m₂ l_c2 g cos(θ₁ + θ₂ − π/2)
//	φ₁  = −m₂ l₁ l_c2 θ̇₂² sin θ₂ − 2 m₂ l₁ l_c2 θ̇₂ θ̇₁ sin θ₂
//	      + (m₁ l_c1 + m₂ l₁) g cos(θ₁ − π/2) + φ₂
//	θ̈₂  = (τ + d₂/d₁ φ₁ − m₂ l₁ l_c2 θ̇₁² sin θ₂ − φ₂) / (m₂ l_c2² + I₂ − d₂²/d₁)
//	θ̈₁  = −(d₂ θ̈₂ + φ₁) / d₁
//
// integrated over dt = 0.2 s by one classical Runge–Kutta step (Gymnasium's
// rk4 with t = [0, dt]); then the angles are wrapped into [−π, π] and the
// velocities clipped to ±4π and ±9π. The episode terminates when the free
// end is more than one link length above the pivot,
// −cos θ₁ − cos(θ₁ + θ₂) > 1, and is truncated after AcrobotMaxSteps steps.
// The reward is −1 per step and 0 on the terminating step. Reset draws each
// state value uniformly from [−0.1, 0.1) and rounds it to float32, as
// Gymnasium does. The state vector is (cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂).
//
// The picture is Gymnasium's: two cyan links with yellow joints and a
// black line at the target height.
type Acrobot struct {
	state [4]float64
	steps int
	src   rand.PCG
	rng   *rand.Rand
	bg    background
}

var (
	_ envs.Simulator   = (*Acrobot)(nil)
	_ envs.StateSetter = (*Acrobot)(nil)
	_ envs.Declarer    = (*Acrobot)(nil)
)

// NewAcrobot returns Acrobot-v1 hanging still; call Reset to start an
// episode.
func NewAcrobot() *Acrobot {
	a := &Acrobot{}
	a.rng = rand.New(&a.src)
	return a
}

// ActionSpace is Discrete(3): torques −1, 0 and +1.
// Traits declares Acrobot-v1's time limit and dream's budget for it.
func (a *Acrobot) Traits() envs.Traits {
	return envs.Traits{TimeLimit: AcrobotMaxSteps, Budget: 50000}
}

func (a *Acrobot) ActionSpace() envs.Space { return envs.Discrete(3) }

// VectorSpace is Gymnasium's observation space: the box with bounds
// ±(1, 1, 1, 1, 4π, 9π).
func (a *Acrobot) VectorSpace() envs.Space {
	high := []float64{1, 1, 1, 1, acrobotMaxVel1, acrobotMaxVel2}
	low := make([]float64, len(high))
	for i, h := range high {
		low[i] = -h
	}
	return envs.Box(low, high, 6)
}

// Reset draws each state value uniformly from [−0.1, 0.1), rounded to
// float32.
func (a *Acrobot) Reset(seed uint64) {
	a.src.Seed(seed, pcgStream)
	for i := range a.state {
		a.state[i] = float64(float32(-acrobotResetBound + 2*acrobotResetBound*a.rng.Float64()))
	}
	a.steps = 0
}

// SetState puts the acrobot in s = (θ₁, θ₂, θ̇₁, θ̇₂) at step 0 of an
// episode.
func (a *Acrobot) SetState(s []float64) error {
	if err := checkState("acrobot", s, len(a.state)); err != nil {
		return err
	}
	copy(a.state[:], s)
	a.steps = 0
	return nil
}

// State returns (θ₁, θ₂, θ̇₁, θ̇₂), owned by the acrobot.
func (a *Acrobot) State() []float64 { return a.state[:] }

// Vector writes (cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂) into dst.
func (a *Acrobot) Vector(dst []float64) {
	s := &a.state
	dst[0], dst[1], dst[2], dst[3] = math.Cos(s[0]), math.Sin(s[0]), math.Cos(s[1]), math.Sin(s[1])
	dst[4], dst[5] = s[2], s[3]
}

// Step applies the joint torque for dt. It panics on an action outside
// Discrete(3).
func (a *Acrobot) Step(action []float64) (reward float64, terminated, truncated bool) {
	torque := float64(discrete("acrobot", action, 3) - 1)
	// Gymnasium integrates the state augmented with the torque, whose
	// derivative is 0, so the torque is constant over the step.
	h := acrobotDt
	h2 := h / 2.0
	h6 := h / 6.0 // rounded as Python does, not the exact 1/30
	y0 := a.state
	k1 := acrobotDsdt(y0, torque)
	k2 := acrobotDsdt(axpy(y0, h2, k1), torque)
	k3 := acrobotDsdt(axpy(y0, h2, k2), torque)
	k4 := acrobotDsdt(axpy(y0, h, k3), torque)
	var ns [4]float64
	for i := range ns {
		ns[i] = y0[i] + h6*(k1[i]+2*k2[i]+2*k3[i]+k4[i])
	}
	ns[0] = wrap(ns[0], -math.Pi, math.Pi)
	ns[1] = wrap(ns[1], -math.Pi, math.Pi)
	ns[2] = clip(ns[2], -acrobotMaxVel1, acrobotMaxVel1)
	ns[3] = clip(ns[3], -acrobotMaxVel2, acrobotMaxVel2)
	a.state = ns

	terminated = -math.Cos(ns[0])-math.Cos(ns[1]+ns[0]) > 1.0
	reward = -1
	if terminated {
		reward = 0
	}
	a.steps++
	return reward, terminated, a.steps >= AcrobotMaxSteps
}

// axpy returns y + h·k.
func axpy(y [4]float64, h float64, k [4]float64) [4]float64 {
	for i := range y {
		y[i] += h * k[i]
	}
	return y
}

// acrobotDsdt is Gymnasium's _dsdt with the book dynamics: the time
// derivative of (θ₁, θ₂, θ̇₁, θ̇₂) under torque tq.
func acrobotDsdt(s [4]float64, tq float64) [4]float64 {
	// Variables, not constants: Go folds constant expressions exactly,
	// Python rounds after every operation ((m₁ l_c1 + m₂ l₁) g differs).
	m1, m2, l1, lc1, lc2 := acrobotM1, acrobotM2, acrobotL1, acrobotLC1, acrobotLC2
	i1, i2, g := acrobotMOI, acrobotMOI, acrobotG
	theta1, theta2, dtheta1, dtheta2 := s[0], s[1], s[2], s[3]
	sin2, cos2 := math.Sin(theta2), math.Cos(theta2)
	d1 := m1*(lc1*lc1) + m2*((l1*l1)+(lc2*lc2)+2*l1*lc2*cos2) + i1 + i2
	d2 := m2*((lc2*lc2)+l1*lc2*cos2) + i2
	phi2 := m2 * lc2 * g * math.Cos(theta1+theta2-math.Pi/2.0)
	phi1 := -m2*l1*lc2*(dtheta2*dtheta2)*sin2 -
		2*m2*l1*lc2*dtheta2*dtheta1*sin2 +
		(m1*lc1+m2*l1)*g*math.Cos(theta1-math.Pi/2) +
		phi2
	ddtheta2 := (tq + d2/d1*phi1 - m2*l1*lc2*(dtheta1*dtheta1)*sin2 - phi2) /
		(m2*(lc2*lc2) + i2 - (d2*d2)/d1)
	ddtheta1 := -(d2*ddtheta2 + phi1) / d1
	return [4]float64{dtheta1, dtheta2, ddtheta1, ddtheta2}
}

// wrap is Gymnasium's wrap: x shifted by multiples of M − m into [m, M].
// Beyond ±wrapLimit, where Gymnasium's loop would run for ages (or forever:
// a huge x minus M − m is x again), x is first reduced by math.Mod; a
// non-finite x becomes NaN.
func wrap(x, m, M float64) float64 {
	diff := M - m
	if math.Abs(x) > wrapLimit {
		x = math.Mod(x, diff)
	}
	for x > M {
		x = x - diff
	}
	for x < m {
		x = x + diff
	}
	return x
}

// Gymnasium's acrobot picture, in its 500×500 screen pixels.
const (
	acrobotScreen = 500.0
	acrobotBound  = acrobotL1 + acrobotL2 + 0.2
	acrobotScale  = acrobotScreen / (acrobotBound * 2)
	acrobotOffset = acrobotScreen / 2
	acrobotHalfW  = 0.1 * acrobotScale

	acrobotLinkColour  rgb = 0x00cccc
	acrobotJointColour rgb = 0xcccc00
)

// Render draws the acrobot into dst, scaled to its bounds.
func (a *Acrobot) Render(dst *image.RGBA) {
	r, ok := newRaster(dst)
	if !ok {
		return
	}
	v := newView(r.w, r.h, acrobotScreen, acrobotScreen)
	a.bg.fill(r, func(b raster) {
		x0, y := v.pt(0, acrobotOffset+acrobotScale)
		x1, _ := v.pt(acrobotScreen, acrobotOffset+acrobotScale)
		b.line(x0, y, x1, y, v.hair(0.5), black)
	})
	// Each link is a rectangle from its joint, along the direction
	// (sin φ, −cos φ) on the screen (φ = θ₁, then θ₁ + θ₂; 0 hangs down),
	// with a joint disc drawn over its start.
	jx, jy := v.pt(acrobotOffset, acrobotOffset)
	angle := 0.0
	for i, l := range [2]float64{acrobotL1, acrobotL2} {
		angle += a.state[i]
		sin, cos := math.Sincos(angle)
		ux, uy := sin, cos // unit axis in pixels (y down)
		half := v.k * l * acrobotScale / 2
		r.box(jx+half*ux, jy+half*uy, ux, uy, half, v.stroke(acrobotHalfW), acrobotLinkColour)
		r.disc(jx, jy, v.k*acrobotHalfW, acrobotJointColour)
		jx, jy = jx+2*half*ux, jy+2*half*uy
	}
}
