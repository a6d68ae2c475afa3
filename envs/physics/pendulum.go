package physics

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
)

// Pendulum constants, as in gymnasium/envs/classic_control/pendulum.py.
const (
	pendulumMaxSpeed  = 8.0
	pendulumMaxTorque = 2.0
	pendulumDt        = 0.05
	pendulumG         = 10.0
	pendulumM         = 1.0
	pendulumL         = 1.0
	pendulumResetVel  = 1.0
)

// PendulumMaxSteps is Pendulum-v1's time limit.
const PendulumMaxSteps = 200

// Gusts of NewPendulumGusty.
const (
	// GustProbability is the chance that a gust blows on a given step.
	GustProbability = 0.2
	// GustStdDev is the standard deviation of a gust's torque (N·m).
	GustStdDev = 1.0
)

// Pendulum is Gymnasium's Pendulum-v1
// (gymnasium/envs/classic_control/pendulum.py), optionally with random
// torque gusts (NewPendulumGusty).
//
// The state is s = (θ, θ̇): the angle from upright (rad, positive
// counter-clockwise) and the angular velocity. The action is a torque u,
// clipped to [−2, 2]. With g = 10, m = 1, l = 1 and dt = 0.05, one step is
//
//	θ̇' = clip(θ̇ + (3g/(2l) sin θ + 3/(m l²) (u + w)) dt, −8, 8)
//	θ'  = θ + θ̇' dt
//	r   = −(norm(θ)² + 0.1 θ̇² + 0.001 u²)
//
// where norm wraps an angle into [−π, π) and w is the gust torque (0 for
// Pendulum-v1). As in Gymnasium's v1 code, the new velocity is clipped
// before it updates the angle, and the reward is computed from the state
// before the step. The episode never terminates and is truncated after
// PendulumMaxSteps steps. Reset draws θ uniformly from [−π, π) and θ̇ from
// [−1, 1). The state vector is (cos θ, sin θ, θ̇).
//
// With gusts, independently on every step a gust blows with probability
// p = GustProbability and its torque is w ~ N(0, σ²), σ = GustStdDev;
// otherwise w = 0. The gust adds to the agent's torque after that has been
// clipped, so it can push beyond the agent's limit; the cost counts the
// agent's torque u only. So the next state given (s, u) is a mixture: with
// probability 1 − p the deterministic Pendulum-v1 step, with probability p
// a Gaussian spread of the velocity with standard deviation 3σ·dt (before
// clipping).
//
// The picture is Gymnasium's: a red rod from the pivot (θ = 0 points up)
// and a black axle. The agent's last torque is a black arc around the
// pivot starting straight below it, running counter-clockwise for a
// positive torque and clockwise for a negative one, through an angle of
// |u|/2·π (a half turn at the limit), with an arrowhead. A gust on the
// last step is a blue arc on a larger circle drawn the same way (at the
// same angle per N·m, up to seven eighths of a turn) and a blue dot in the
// top-left corner.
type Pendulum struct {
	state [2]float64
	steps int
	// gustProb is 0 for Pendulum-v1.
	gustProb float64
	lastU    float64
	hasU     bool
	lastGust float64
	src      rand.PCG
	rng      *rand.Rand
	bg       background
}

var (
	_ envs.Simulator   = (*Pendulum)(nil)
	_ envs.StateSetter = (*Pendulum)(nil)
	_ envs.Declarer    = (*Pendulum)(nil)
)

// NewPendulum returns Pendulum-v1 in the state (0, 0); call Reset to start
// an episode.
func NewPendulum() *Pendulum {
	p := &Pendulum{}
	p.rng = rand.New(&p.src)
	return p
}

// NewPendulumGusty returns Pendulum-v1 with random torque gusts (see
// Pendulum) in the state (0, 0).
func NewPendulumGusty() *Pendulum {
	p := NewPendulum()
	p.gustProb = GustProbability
	return p
}

// ActionSpace is Box(−2, 2, (1,)).
// Traits declares Pendulum-v1's time limit and dream's budget for it,
// gusty or not: 30,000 steps, within which it learns from pixels.
func (p *Pendulum) Traits() envs.Traits {
	return envs.Traits{TimeLimit: PendulumMaxSteps, Budget: 30000}
}

func (p *Pendulum) ActionSpace() envs.Space {
	return envs.Box([]float64{-pendulumMaxTorque}, []float64{pendulumMaxTorque}, 1)
}

// VectorSpace is Gymnasium's observation space: the box with bounds
// ±(1, 1, 8).
func (p *Pendulum) VectorSpace() envs.Space {
	return envs.Box([]float64{-1, -1, -pendulumMaxSpeed}, []float64{1, 1, pendulumMaxSpeed}, 3)
}

// Reset draws θ uniformly from [−π, π) and θ̇ from [−1, 1).
func (p *Pendulum) Reset(seed uint64) {
	p.src.Seed(seed, pcgStream)
	p.state[0] = -math.Pi + 2*math.Pi*p.rng.Float64()
	p.state[1] = -pendulumResetVel + 2*pendulumResetVel*p.rng.Float64()
	p.restart()
}

func (p *Pendulum) restart() {
	p.steps = 0
	p.lastU, p.hasU, p.lastGust = 0, false, 0
}

// SetState puts the pendulum in s = (θ, θ̇) at step 0 of an episode, with
// no last torque and no gust. The gusts' random stream goes on where it
// was.
func (p *Pendulum) SetState(s []float64) error {
	if err := checkState("pendulum", s, len(p.state)); err != nil {
		return err
	}
	copy(p.state[:], s)
	p.restart()
	return nil
}

// State returns (θ, θ̇), owned by the pendulum.
func (p *Pendulum) State() []float64 { return p.state[:] }

// Vector writes (cos θ, sin θ, θ̇) into dst.
func (p *Pendulum) Vector(dst []float64) {
	dst[0], dst[1], dst[2] = math.Cos(p.state[0]), math.Sin(p.state[0]), p.state[1]
}

// LastTorque returns the agent's clipped torque on the last step; ok is
// false before the first step of an episode.
func (p *Pendulum) LastTorque() (u float64, ok bool) { return p.lastU, p.hasU }

// LastGust returns the gust's torque on the last step: 0 when no gust blew
// (always, for Pendulum-v1).
func (p *Pendulum) LastGust() float64 { return p.lastGust }

// Step applies the torque action[0] for dt. It panics unless the action
// has one value, which is not NaN.
func (p *Pendulum) Step(action []float64) (reward float64, terminated, truncated bool) {
	if len(action) != 1 || math.IsNaN(action[0]) {
		panic("physics: pendulum action must be one number")
	}
	th, thDot := p.state[0], p.state[1]
	u := clip(action[0], -pendulumMaxTorque, pendulumMaxTorque)
	p.lastU, p.hasU = u, true
	w := 0.0
	if p.gustProb > 0 && p.rng.Float64() < p.gustProb {
		w = GustStdDev * p.rng.NormFloat64()
	}
	p.lastGust = w
	n := angleNormalize(th)
	costs := n*n + 0.1*(thDot*thDot) + 0.001*(u*u)

	newThDot := thDot + (3*pendulumG/(2*pendulumL)*math.Sin(th)+3.0/(pendulumM*(pendulumL*pendulumL))*(u+w))*pendulumDt
	newThDot = clip(newThDot, -pendulumMaxSpeed, pendulumMaxSpeed)
	newTh := th + newThDot*pendulumDt
	p.state = [2]float64{newTh, newThDot}
	p.steps++
	return -costs, false, p.steps >= PendulumMaxSteps
}

// angleNormalize is Gymnasium's angle_normalize, ((x + π) mod 2π) − π with
// Python's floored modulo, which lies in [−π, π).
func angleNormalize(x float64) float64 {
	m := math.Mod(x+math.Pi, 2*math.Pi)
	if m < 0 {
		m += 2 * math.Pi
	}
	return m - math.Pi
}

// Gymnasium's pendulum picture, in its 500×500 screen pixels.
const (
	pendulumScreen    = 500.0
	pendulumScale     = pendulumScreen / (2 * 2.2)
	pendulumOffset    = pendulumScreen / 2
	pendulumRodHalf   = 0.1 * pendulumScale
	pendulumAxle      = 0.05 * pendulumScale
	pendulumArcRadius = 0.45 * pendulumScale
	gustArcRadius     = 0.75 * pendulumScale
	arcHalfWidth      = 0.03 * pendulumScale
	arcHead           = 0.15 * pendulumScale
	gustDotX          = 0.3 * pendulumScale
	gustDotRadius     = 0.15 * pendulumScale
	// arcRadPerTorque is the arcs' angle per N·m: a half turn at the
	// torque limit.
	arcRadPerTorque = math.Pi / pendulumMaxTorque

	pendulumRodColour rgb = 0xcc4d4d
	pendulumArcColour rgb = 0x000000
	gustColour        rgb = 0x1f77b4
)

// Render draws the pendulum into dst, scaled to its bounds.
func (p *Pendulum) Render(dst *image.RGBA) {
	r, ok := newRaster(dst)
	if !ok {
		return
	}
	v := newView(r.w, r.h, pendulumScreen, pendulumScreen)
	p.bg.fill(r, func(raster) {})

	cx, cy := v.pt(pendulumOffset, pendulumOffset)
	sin, cos := math.Sincos(p.state[0])
	ex, ey := v.pt(pendulumOffset-pendulumScale*sin, pendulumOffset+pendulumScale*cos)
	r.line(cx, cy, ex, ey, v.stroke(pendulumRodHalf), pendulumRodColour)
	if p.lastGust != 0 {
		torqueArc(r, v, cx, cy, gustArcRadius, p.lastGust, gustColour)
		dx, dy := v.pt(gustDotX, pendulumScreen-gustDotX)
		r.disc(dx, dy, v.k*gustDotRadius, gustColour)
	}
	if p.hasU && p.lastU != 0 {
		torqueArc(r, v, cx, cy, pendulumArcRadius, p.lastU, pendulumArcColour)
	}
	r.disc(cx, cy, v.k*pendulumAxle, black)
}

// torqueArc draws the arc of torque u around (cx, cy) (pixels) on the
// circle of screen radius rad: from straight below, counter-clockwise for
// u > 0, through |u|·arcRadPerTorque, with an arrowhead no longer than the
// arc.
func torqueArc(r raster, v view, cx, cy, rad, u float64, c rgb) {
	sweep := u * arcRadPerTorque
	head := v.k * min(arcHead, rad*math.Abs(sweep))
	r.arrow(cx, cy, v.k*rad, -math.Pi/2, sweep, head, v.stroke(arcHalfWidth), c)
}
