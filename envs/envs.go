// Package envs defines dream's environment API: Gymnasium's semantics in Go.
//
// An environment is reset with a seed and returns its first observation; a
// step takes an action and returns the next observation, the reward and two
// flags, terminated (the episode reached a terminal state) and truncated (a
// time limit cut it short; not a terminal state). Observations are pixels by
// default (an RGB frame, 32×32 unless another size is asked for) or the
// environment's state vector on request.
//
// Concrete environments implement the small Simulator interface; New wraps a
// Simulator into an Env that produces the observations. Environments render
// themselves into an *image.RGBA in pure Go at any size.
package envs

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
)

// SpaceKind tells a discrete space from a box.
type SpaceKind int

const (
	// KindDiscrete is the space {0, 1, …, N−1}.
	KindDiscrete SpaceKind = iota
	// KindBox is the box [Low, High] of the given Shape.
	KindBox
)

// Space describes a set of actions or observations, as Gymnasium's spaces do.
//
// A discrete space has Kind KindDiscrete and N elements; a box has Kind
// KindBox, a Shape and per-element bounds Low and High (flattened in
// row-major order; ±Inf where unbounded).
type Space struct {
	Kind  SpaceKind
	N     int
	Shape []int
	Low   []float64
	High  []float64
}

// Discrete returns the space {0, …, n−1}.
func Discrete(n int) Space { return Space{Kind: KindDiscrete, N: n} }

// Box returns the box [low, high] of the given shape. low and high hold one
// value per element (row-major); a single value is broadcast to all.
func Box(low, high []float64, shape ...int) Space {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return Space{Kind: KindBox, Shape: append([]int(nil), shape...), Low: broadcast(low, n), High: broadcast(high, n)}
}

func broadcast(v []float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		if len(v) == 1 {
			out[i] = v[0]
		} else {
			out[i] = v[i]
		}
	}
	return out
}

// Dim is the number of scalars in one element of the space: 1 for a
// discrete space (the index), the product of Shape for a box.
func (s Space) Dim() int {
	if s.Kind == KindDiscrete {
		return 1
	}
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// String formats the space as Gymnasium prints it: Discrete(4), Box(-2, 2, (1,)).
func (s Space) String() string {
	if s.Kind == KindDiscrete {
		return fmt.Sprintf("Discrete(%d)", s.N)
	}
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := strings.Join(dims, ",")
	if len(dims) == 1 {
		shape += ","
	}
	lo, hi := s.Low[0], s.High[0]
	for i := range s.Low {
		if s.Low[i] != lo || s.High[i] != hi {
			return fmt.Sprintf("Box(varied, (%s))", shape)
		}
	}
	return fmt.Sprintf("Box(%g, %g, (%s))", lo, hi, shape)
}

// Contains reports whether the action or observation a lies in the space.
func (s Space) Contains(a []float64) bool {
	if s.Kind == KindDiscrete {
		return len(a) == 1 && a[0] == float64(int(a[0])) && a[0] >= 0 && int(a[0]) < s.N
	}
	if len(a) != len(s.Low) {
		return false
	}
	for i, v := range a {
		if !(v >= s.Low[i] && v <= s.High[i]) {
			return false
		}
	}
	return true
}

// Simulator is what a concrete environment implements: its dynamics, its
// state and its picture. Actions are float64 vectors; a discrete action is
// its index in a[0].
type Simulator interface {
	// ActionSpace is the set of valid actions.
	ActionSpace() Space
	// VectorSpace is the space of state observations written by Vector.
	VectorSpace() Space
	// Reset starts a new episode whose randomness derives from seed alone.
	Reset(seed uint64)
	// Step applies the action and returns the reward and the two flags.
	Step(action []float64) (reward float64, terminated, truncated bool)
	// Vector writes the state observation into dst (len VectorSpace().Dim()).
	Vector(dst []float64)
	// State returns the full simulator state (float64; for a gridworld
	// row and column). The slice is owned by the simulator.
	State() []float64
	// Render draws the current state into dst, scaled to dst's bounds.
	Render(dst *image.RGBA)
}

// Traits is what an environment declares about itself. The agent derives
// from it, by documented rules, the settings that must depend on the
// environment (agent.DiscountFor, agent.FrameStackFor, agent.ExplorationFor),
// so that a run never keys a setting on an environment's name.
type Traits struct {
	// Actions is the kind of the action space.
	Actions SpaceKind
	// TimeLimit is the step count at which an episode is truncated, 0 if
	// the environment declares none.
	TimeLimit int
	// FiniteStates tells that the environment has a finite set of states
	// and that one frame shows the whole state, as a gridworld's cells
	// do (and a Gymnasium environment with a Discrete observation
	// space); a physics frame shows positions but not velocities.
	FiniteStates bool
	// Budget is the number of environment steps a run trains when it sets
	// none, 0 if the environment declares none.
	Budget int
}

// String says what t declares, such as "discrete actions, a 100-step
// time limit, finitely many states, each shown whole by a frame, a budget
// of 20000 steps".
func (t Traits) String() string {
	parts := []string{"continuous actions"}
	if t.Actions == KindDiscrete {
		parts[0] = "discrete actions"
	}
	if t.TimeLimit > 0 {
		parts = append(parts, fmt.Sprintf("a %d-step time limit", t.TimeLimit))
	} else {
		parts = append(parts, "no time limit")
	}
	if t.FiniteStates {
		parts = append(parts, "finitely many states, each shown whole by a frame")
	} else {
		parts = append(parts, "states that one frame does not show whole")
	}
	if t.Budget > 0 {
		parts = append(parts, fmt.Sprintf("a budget of %d steps", t.Budget))
	} else {
		parts = append(parts, "no budget")
	}
	return strings.Join(parts, ", ")
}

// Declarer is a Simulator that declares its Traits (TraitsOf fills in
// Actions from its action space).
type Declarer interface {
	Traits() Traits
}

// TraitsOf returns what sim declares: its Traits when it is a Declarer,
// with Actions taken from its action space.
func TraitsOf(sim Simulator) Traits {
	var t Traits
	if d, ok := sim.(Declarer); ok {
		t = d.Traits()
	}
	t.Actions = sim.ActionSpace().Kind
	return t
}

// StateSetter is a Simulator that can be put into a given state, so that a
// trajectory from that state can be replayed and compared.
type StateSetter interface {
	SetState(s []float64) error
}

// Successor is a Simulator whose episodes can end in success, such as a
// gridworld whose agent reached a goal. Success reports whether the
// current state is one.
type Successor interface {
	Success() bool
}

// ObsMode selects what an Env observes.
type ObsMode string

const (
	// ObsPixels observes an RGB frame (the default).
	ObsPixels ObsMode = "pixels"
	// ObsState observes the state vector.
	ObsState ObsMode = "state"
)

// DefaultSize is the side of a pixel observation when none is asked for.
const DefaultSize = 32

// Observation is what an agent sees: Frame in pixel mode, Vector in state
// mode. Both are owned by the Env and valid until its next Reset or Step.
type Observation struct {
	// Frame is an RGBA image with opaque alpha; the agent uses its RGB.
	Frame *image.RGBA
	// Vector is the state observation.
	Vector []float64
}

// Env is an environment with Gymnasium's semantics.
type Env interface {
	// ObservationSpace is Box(0, 255, (size, size, 3)) for pixels, the
	// simulator's vector space for states.
	ObservationSpace() Space
	ActionSpace() Space
	// Reset starts an episode from seed and returns the first observation.
	Reset(seed uint64) Observation
	// Step applies an action.
	Step(action []float64) (obs Observation, reward float64, terminated, truncated bool)
	// Render draws the current state into dst at dst's size.
	Render(dst *image.RGBA)
	// State returns the simulator's state (owned by it).
	State() []float64
	// Simulator returns the wrapped simulator.
	Simulator() Simulator
	// Mode tells what the environment observes.
	Mode() ObsMode
}

// Options choose how an environment is made.
// The zero value means pixel observations of DefaultSize.
type Options struct {
	// Obs is ObsPixels (default) or ObsState.
	Obs ObsMode
	// Size is the side of pixel observations; 0 means DefaultSize.
	Size int
	// MapFile is a gridworld map in the format documented in package
	// gridworld; only environments that take a map use it.
	MapFile string
	// Python is the interpreter that runs a Gymnasium environment
	// ("gym:ID", package envs/gym): a name looked up on PATH or a path;
	// empty means python3 on PATH. Other environments take none.
	Python string
	// GymKwargs is a JSON object of keyword arguments for gymnasium.make,
	// such as {"max_episode_steps": 200}; empty means none. Other
	// environments take none.
	GymKwargs string
}

// ErrOptions reports options that an environment cannot honour.
var ErrOptions = errors.New("envs: bad options")

// Validate checks the options.
func (o Options) Validate() error {
	switch o.Obs {
	case "", ObsPixels, ObsState:
	default:
		return fmt.Errorf("%w: observation mode %q (allowed: pixels, state)", ErrOptions, o.Obs)
	}
	if o.Size < 0 || o.Size > 1024 {
		return fmt.Errorf("%w: size %d (allowed: 1 to 1024, 0 for %d)", ErrOptions, o.Size, DefaultSize)
	}
	if o.GymKwargs != "" {
		if err := CheckGymKwargs(o.GymKwargs); err != nil {
			return fmt.Errorf("%w: %v", ErrOptions, err)
		}
	}
	return nil
}

// CheckGymKwargs checks that s, the keyword arguments of gymnasium.make,
// is a JSON object.
func CheckGymKwargs(s string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return fmt.Errorf("gym kwargs %s are not a JSON object (allowed: a JSON object such as {\"max_episode_steps\": 200})", s)
	}
	return nil
}

// Failure is the panic value of a Simulator that cannot go on, such as one
// whose environment runs in a process that died (package envs/gym). Reset
// and Step have no error result, so such a simulator panics with a
// *Failure, and whoever steps it recovers it: agent.Run.Train writes a
// checkpoint and returns it as its error; RecoverFailure turns it into
// an error anywhere else. A failed simulator stays failed.
type Failure struct {
	// Err says what went wrong, on one line.
	Err error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// RecoverFailure, deferred, turns a panic with a *Failure into *err and
// lets every other panic go on:
//
//	func play(env envs.Env) (err error) {
//		defer envs.RecoverFailure(&err)
//		…
//	}
func RecoverFailure(err *error) {
	switch v := recover().(type) {
	case nil:
	case *Failure:
		*err = v
	default:
		panic(v)
	}
}

// Close releases what an environment holds outside the Go heap, such as
// the process of a Gymnasium environment: it calls its simulator's Close
// method where it has one (io.Closer) and does nothing otherwise. An
// environment must not be used after Close.
func Close(e Env) error {
	if c, ok := e.Simulator().(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type env struct {
	sim   Simulator
	mode  ObsMode
	frame *image.RGBA
	vec   []float64
	space Space
}

// New wraps a simulator into an Env observing as opts says.
func New(sim Simulator, opts Options) (Env, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &env{sim: sim, mode: opts.Obs}
	if e.mode == "" {
		e.mode = ObsPixels
	}
	if e.mode == ObsPixels {
		size := opts.Size
		if size == 0 {
			size = DefaultSize
		}
		e.frame = image.NewRGBA(image.Rect(0, 0, size, size))
		e.space = Box([]float64{0}, []float64{255}, size, size, 3)
	} else {
		e.space = sim.VectorSpace()
		e.vec = make([]float64, e.space.Dim())
	}
	return e, nil
}

func (e *env) ObservationSpace() Space { return e.space }
func (e *env) ActionSpace() Space      { return e.sim.ActionSpace() }
func (e *env) Render(dst *image.RGBA)  { e.sim.Render(dst) }
func (e *env) State() []float64        { return e.sim.State() }
func (e *env) Simulator() Simulator    { return e.sim }
func (e *env) Mode() ObsMode           { return e.mode }

func (e *env) Reset(seed uint64) Observation {
	e.sim.Reset(seed)
	return e.observe()
}

func (e *env) Step(action []float64) (Observation, float64, bool, bool) {
	r, term, trunc := e.sim.Step(action)
	return e.observe(), r, term, trunc
}

func (e *env) observe() Observation {
	if e.frame != nil {
		e.sim.Render(e.frame)
		return Observation{Frame: e.frame}
	}
	e.sim.Vector(e.vec)
	return Observation{Vector: e.vec}
}
