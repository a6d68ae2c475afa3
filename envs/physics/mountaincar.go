package physics

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
)

// MountainCar constants, as in gymnasium/envs/classic_control/mountain_car.py.
const (
	mountainCarMinPos  = -1.2
	mountainCarMaxPos  = 0.6
	mountainCarMaxVel  = 0.07
	mountainCarGoalPos = 0.5
	mountainCarGoalVel = 0.0
	mountainCarForce   = 0.001
	mountainCarGravity = 0.0025
	mountainCarResetLo = -0.6
	mountainCarResetHi = -0.4
)

// MountainCarMaxSteps is MountainCar-v0's time limit.
const MountainCarMaxSteps = 200

// MountainCar is Gymnasium's MountainCar-v0
// (gymnasium/envs/classic_control/mountain_car.py; Moore 1990): an
// underpowered car in a valley of height h(x) = 0.45 sin 3x + 0.55 must
// rock back and forth to reach the flag on the right hill.
//
// The state is s = (x, v): position and velocity. Action a ∈ {0, 1, 2}
// accelerates left, not at all, or right. With force f = 0.001 and gravity
// g = 0.0025, one step is
//
//	v' = clip(v + (a − 1) f − g cos 3x, −0.07, 0.07)
//	x' = clip(x + v', −1.2, 0.6),   v' ← 0 if x' = −1.2 and v' < 0
//
// (the left wall stops the car). The episode terminates when x' ≥ 0.5 and
// v' ≥ 0 and is truncated after MountainCarMaxSteps steps; the reward is
// −1 per step. Reset draws x uniformly from [−0.6, −0.4) and sets v = 0.
// The state vector is s itself.
//
// The picture is Gymnasium's: the valley's profile, a black car with grey
// wheels tilted by cos 3x radians (as Gymnasium tilts it) and a yellow flag
// at the goal.
type MountainCar struct {
	state [2]float64
	steps int
	src   rand.PCG
	rng   *rand.Rand
	bg    background
}

var (
	_ envs.Simulator   = (*MountainCar)(nil)
	_ envs.StateSetter = (*MountainCar)(nil)
	_ envs.Declarer    = (*MountainCar)(nil)
)

// NewMountainCar returns MountainCar-v0 at rest at x = 0; call Reset to
// start an episode.
func NewMountainCar() *MountainCar {
	m := &MountainCar{}
	m.rng = rand.New(&m.src)
	return m
}

// ActionSpace is Discrete(3): accelerate left, don't, accelerate right.
// Traits declares MountainCar-v0's time limit and dream's budget for it.
func (m *MountainCar) Traits() envs.Traits {
	return envs.Traits{TimeLimit: MountainCarMaxSteps, Budget: 50000}
}

func (m *MountainCar) ActionSpace() envs.Space { return envs.Discrete(3) }

// VectorSpace is Gymnasium's observation space: [−1.2, 0.6] × [−0.07, 0.07].
func (m *MountainCar) VectorSpace() envs.Space {
	return envs.Box([]float64{mountainCarMinPos, -mountainCarMaxVel}, []float64{mountainCarMaxPos, mountainCarMaxVel}, 2)
}

// Reset draws x uniformly from [−0.6, −0.4) and sets v = 0.
func (m *MountainCar) Reset(seed uint64) {
	m.src.Seed(seed, pcgStream)
	m.state = [2]float64{mountainCarResetLo + (mountainCarResetHi-mountainCarResetLo)*m.rng.Float64(), 0}
	m.steps = 0
}

// SetState puts the car in s = (x, v) at step 0 of an episode.
func (m *MountainCar) SetState(s []float64) error {
	if err := checkState("mountaincar", s, len(m.state)); err != nil {
		return err
	}
	copy(m.state[:], s)
	m.steps = 0
	return nil
}

// State returns (x, v), owned by the car.
func (m *MountainCar) State() []float64 { return m.state[:] }

// Vector writes (x, v) into dst.
func (m *MountainCar) Vector(dst []float64) { copy(dst, m.state[:]) }

// Step accelerates the car for one step. It panics on an action outside
// Discrete(3).
func (m *MountainCar) Step(action []float64) (reward float64, terminated, truncated bool) {
	a := discrete("mountaincar", action, 3)
	position, velocity := m.state[0], m.state[1]
	velocity += float64(a-1)*mountainCarForce + math.Cos(3*position)*(-mountainCarGravity)
	velocity = clip(velocity, -mountainCarMaxVel, mountainCarMaxVel)
	position += velocity
	position = clip(position, mountainCarMinPos, mountainCarMaxPos)
	if position == mountainCarMinPos && velocity < 0 {
		velocity = 0
	}
	terminated = position >= mountainCarGoalPos && velocity >= mountainCarGoalVel
	m.state = [2]float64{position, velocity}
	m.steps++
	return -1, terminated, m.steps >= MountainCarMaxSteps
}

// mountainHeight is Gymnasium's _height: the valley's height at x.
func mountainHeight(x float64) float64 { return math.Sin(3*x)*0.45 + 0.55 }

// Gymnasium's mountain-car picture, in its 600×400 screen pixels.
const (
	mountainScreenW   = 600
	mountainScreenH   = 400
	mountainScale     = mountainScreenW / (mountainCarMaxPos - mountainCarMinPos)
	mountainCarW      = 40.0
	mountainCarH      = 20.0
	mountainClearance = 10.0
	mountainWheel     = 8.0 // int(carheight / 2.5)
	mountainFlagPole  = 50.0
	mountainPoints    = 100

	mountainWheelColour rgb = 0x808080
	mountainFlagColour  rgb = 0xcccc00
)

// Render draws the mountain car into dst, scaled to its bounds.
func (m *MountainCar) Render(dst *image.RGBA) {
	r, ok := newRaster(dst)
	if !ok {
		return
	}
	v := newView(r.w, r.h, mountainScreenW, mountainScreenH)
	m.bg.fill(r, func(b raster) { drawMountain(b, v) })

	pos := m.state[0]
	ox := (pos - mountainCarMinPos) * mountainScale
	oy := mountainClearance + mountainHeight(pos)*mountainScale
	// Gymnasium rotates the car by cos 3x radians counter-clockwise.
	sin, cos := math.Sincos(math.Cos(3 * pos))
	rot := func(x, y float64) (float64, float64) { return v.pt(ox+x*cos-y*sin, oy+x*sin+y*cos) }
	bx, by := rot(0, mountainCarH/2)
	r.box(bx, by, cos, -sin, v.k*mountainCarW/2, v.stroke(mountainCarH/2), black)
	for _, wx := range [2]float64{mountainCarW / 4, -mountainCarW / 4} {
		x, y := rot(wx, 0)
		r.disc(x, y, v.k*mountainWheel, mountainWheelColour)
	}
}

// drawMountain draws the valley's profile and the flag.
func drawMountain(b raster, v view) {
	var ss [mountainPoints - 1]segment
	step := (mountainCarMaxPos - mountainCarMinPos) / (mountainPoints - 1)
	px, py := v.pt(0, mountainHeight(mountainCarMinPos)*mountainScale)
	for i := range ss {
		x := mountainCarMinPos + float64(i+1)*step
		qx, qy := v.pt((x-mountainCarMinPos)*mountainScale, mountainHeight(x)*mountainScale)
		ss[i] = seg(px, py, qx, qy)
		px, py = qx, qy
	}
	b.strokes(ss[:], v.hair(0.5), black)

	flagX := math.Trunc((mountainCarGoalPos - mountainCarMinPos) * mountainScale)
	flagY1 := math.Trunc(mountainHeight(mountainCarGoalPos) * mountainScale)
	flagY2 := flagY1 + mountainFlagPole
	x, y1 := v.pt(flagX, flagY1)
	_, y2 := v.pt(flagX, flagY2)
	b.line(x, y1, x, y2, v.hair(0.5), black)
	ax, ay := v.pt(flagX, flagY2)
	bx, by := v.pt(flagX, flagY2-10)
	cx, cy := v.pt(flagX+25, flagY2-5)
	b.triangle(ax, ay, bx, by, cx, cy, mountainFlagColour)
}
