package physics

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
)

// CartPole constants, as in gymnasium/envs/classic_control/cartpole.py.
const (
	cartPoleGravity  = 9.8
	cartPoleMassCart = 1.0
	cartPoleMassPole = 0.1
	cartPoleTotal    = cartPoleMassPole + cartPoleMassCart
	cartPoleLength   = 0.5 // half the pole's length
	cartPolePoleMass = cartPoleMassPole * cartPoleLength
	cartPoleForceMag = 10.0
	cartPoleTau      = 0.02
	cartPoleXLimit   = 2.4
	// cartPoleThetaLimit is Gymnasium's 12·2·π/360 evaluated as Python
	// does, one float64 rounding per operation; it is one ulp below π/15.
	cartPoleThetaLimit = 0.20943951023931953
	cartPoleResetBound = 0.05
)

// CartPoleMaxSteps is CartPole-v1's time limit.
const CartPoleMaxSteps = 500

// CartPole is Gymnasium's CartPole-v1
// (gymnasium/envs/classic_control/cartpole.py; Barto, Sutton & Anderson
// 1983): a pole hinged on a cart that moves along a frictionless track.
//
// The state is s = (x, ẋ, θ, θ̇): the cart's position (m) and velocity,
// the pole's angle from upright (rad, positive clockwise, towards +x) and
// its angular velocity. Action 0 pushes the cart left and 1 right with
// force F = ±10 N. With g = 9.8, cart mass m_c = 1, pole mass m_p = 0.1,
// total mass M = m_c + m_p, half-length l = 0.5 and τ = 0.02 s:
//
//	temp = (F + m_p l θ̇² sin θ) / M
//	θ̈    = (g sin θ − cos θ · temp) / (l (4/3 − m_p cos² θ / M))
//	ẍ    = temp − m_p l θ̈ cos θ / M
//
// integrated by explicit Euler in Gymnasium's order:
//
//	x ← x + τ ẋ,  ẋ ← ẋ + τ ẍ,  θ ← θ + τ θ̇,  θ̇ ← θ̇ + τ θ̈.
//
// The episode terminates when |x| > 2.4 or |θ| > 12° and is truncated
// after CartPoleMaxSteps steps. The reward is 1 per step, the terminating
// step included, and 0 for steps taken after termination (Gymnasium's
// steps_beyond_terminated). Reset draws each of the four state values
// uniformly from [−0.05, 0.05). The state vector is s itself.
//
// The picture is Gymnasium's: a black cart on a track, a tan pole and a
// blue axle, the 4.8 m between the track's ends spanning the width of the
// picture. The track is a thin line drawn beneath the cart and pole (it is
// drawn last, over them, in Gymnasium).
type CartPole struct {
	state [4]float64
	steps int
	// fallen is Gymnasium's steps_beyond_terminated ≠ None.
	fallen bool
	src    rand.PCG
	rng    *rand.Rand
	bg     background
}

var (
	_ envs.Simulator   = (*CartPole)(nil)
	_ envs.StateSetter = (*CartPole)(nil)
	_ envs.Declarer    = (*CartPole)(nil)
)

// NewCartPole returns CartPole-v1 in the all-zero state; call Reset to
// start an episode.
func NewCartPole() *CartPole {
	c := &CartPole{}
	c.rng = rand.New(&c.src)
	return c
}

// ActionSpace is Discrete(2): 0 pushes left, 1 pushes right.
// Traits declares CartPole-v1's time limit and dream's budget for it:
// 50,000 steps, within which it learns from pixels.
func (c *CartPole) Traits() envs.Traits {
	return envs.Traits{TimeLimit: CartPoleMaxSteps, Budget: 50000}
}

func (c *CartPole) ActionSpace() envs.Space { return envs.Discrete(2) }

// VectorSpace is Gymnasium's observation space: the box with bounds
// ±(4.8, MaxFloat32, 24°, MaxFloat32).
func (c *CartPole) VectorSpace() envs.Space {
	high := []float64{2 * cartPoleXLimit, math.MaxFloat32, 2 * cartPoleThetaLimit, math.MaxFloat32}
	low := make([]float64, len(high))
	for i, h := range high {
		low[i] = -h
	}
	return envs.Box(low, high, 4)
}

// Reset draws each state value uniformly from [−0.05, 0.05).
func (c *CartPole) Reset(seed uint64) {
	c.src.Seed(seed, pcgStream)
	for i := range c.state {
		c.state[i] = -cartPoleResetBound + 2*cartPoleResetBound*c.rng.Float64()
	}
	c.steps, c.fallen = 0, false
}

// SetState puts the cart-pole in s = (x, ẋ, θ, θ̇) at step 0 of an episode.
func (c *CartPole) SetState(s []float64) error {
	if err := checkState("cartpole", s, len(c.state)); err != nil {
		return err
	}
	copy(c.state[:], s)
	c.steps, c.fallen = 0, false
	return nil
}

// State returns (x, ẋ, θ, θ̇), owned by the cart-pole.
func (c *CartPole) State() []float64 { return c.state[:] }

// Vector writes (x, ẋ, θ, θ̇) into dst.
func (c *CartPole) Vector(dst []float64) { copy(dst, c.state[:]) }

// Step pushes the cart and advances the state by τ. It panics on an action
// outside Discrete(2).
func (c *CartPole) Step(action []float64) (reward float64, terminated, truncated bool) {
	force := -cartPoleForceMag
	if discrete("cartpole", action, 2) == 1 {
		force = cartPoleForceMag
	}
	x, xDot, theta, thetaDot := c.state[0], c.state[1], c.state[2], c.state[3]
	cosTheta, sinTheta := math.Cos(theta), math.Sin(theta)
	temp := (force + cartPolePoleMass*(thetaDot*thetaDot)*sinTheta) / cartPoleTotal
	thetaAcc := (cartPoleGravity*sinTheta - cosTheta*temp) /
		(cartPoleLength * (4.0/3.0 - cartPoleMassPole*(cosTheta*cosTheta)/cartPoleTotal))
	xAcc := temp - cartPolePoleMass*thetaAcc*cosTheta/cartPoleTotal

	x = x + cartPoleTau*xDot
	xDot = xDot + cartPoleTau*xAcc
	theta = theta + cartPoleTau*thetaDot
	thetaDot = thetaDot + cartPoleTau*thetaAcc
	c.state = [4]float64{x, xDot, theta, thetaDot}

	terminated = x < -cartPoleXLimit || x > cartPoleXLimit ||
		theta < -cartPoleThetaLimit || theta > cartPoleThetaLimit
	switch {
	case !terminated:
		reward = 1
	case !c.fallen:
		c.fallen = true
		reward = 1
	}
	c.steps++
	return reward, terminated, c.steps >= CartPoleMaxSteps
}

// Gymnasium's cart-pole picture, in its 600×400 screen pixels.
const (
	cartPoleScreenW   = 600
	cartPoleScreenH   = 400
	cartPoleScale     = cartPoleScreenW / (2 * cartPoleXLimit)
	cartPolePoleWidth = 10.0
	cartPolePoleLen   = cartPoleScale * (2 * cartPoleLength)
	cartPoleCartW     = 50.0
	cartPoleCartH     = 30.0
	cartPoleCartY     = 100.0
	cartPoleAxle      = cartPoleCartH / 4

	cartPoleCartColour rgb = 0x000000
	cartPolePoleColour rgb = 0xca9865
	cartPoleAxleColour rgb = 0x8184cb
)

// Render draws the cart-pole into dst, scaled to its bounds.
func (c *CartPole) Render(dst *image.RGBA) {
	r, ok := newRaster(dst)
	if !ok {
		return
	}
	v := newView(r.w, r.h, cartPoleScreenW, cartPoleScreenH)
	c.bg.fill(r, func(b raster) {
		x0, y := v.pt(0, cartPoleCartY)
		x1, _ := v.pt(cartPoleScreenW, cartPoleCartY)
		b.line(x0, y, x1, y, v.hair(0.5), black)
	})

	cartX := c.state[0]*cartPoleScale + cartPoleScreenW/2
	cx, cy := v.pt(cartX, cartPoleCartY)
	r.box(cx, cy, 1, 0, v.k*cartPoleCartW/2, v.k*cartPoleCartH/2, cartPoleCartColour)

	// The pole runs from half its width below the axle to its length
	// above, at angle θ clockwise from upright.
	ax, ay := v.pt(cartX, cartPoleCartY+cartPoleAxle)
	sin, cos := math.Sincos(c.state[2])
	ux, uy := sin, -cos // unit axis in pixels (y down)
	mid := v.k * (cartPolePoleLen - cartPolePoleWidth) / 2
	r.box(ax+mid*ux, ay+mid*uy, ux, uy, v.k*cartPolePoleLen/2, v.stroke(cartPolePoleWidth/2), cartPolePoleColour)
	r.disc(ax, ay, v.k*cartPolePoleWidth/2, cartPoleAxleColour)
}
