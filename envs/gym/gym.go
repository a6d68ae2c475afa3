// Package gym runs Gymnasium environments for dream: a Python child
// process makes the environment (gymnasium.make) and steps it, and an Env
// drives it over pipes with a small versioned binary protocol
// (docs/gym.md). Nothing else in dream knows the environment is remote:
// Env is an envs.Simulator like the built-in ones.
//
// The Python side is one file, bridge.py, that uses the standard library,
// numpy and gymnasium only. It is embedded in the binary and written to a
// temporary file when a child starts, so dream stays one file.
//
// Spaces map onto envs.Space: Discrete(n) onto envs.Discrete(n) (a start
// other than 0 is added on the Python side), a Box of actions onto
// envs.Box with its bounds, which must be finite, and a Box of
// observations onto envs.Box, bounds and all. A Discrete observation
// space becomes the one-hot vector of the state (State returns the
// index). Other spaces (Dict, Tuple, MultiDiscrete, …) are refused. In
// pixel mode the observation is the environment's render() in
// render_mode "rgb_array", resized in Go by area averaging to the asked
// size; the observation space is then not read at all.
//
// Lifetime: every Env is its own child. Close ends it; a child whose Env
// is garbage-collected unclosed is killed; the child exits when its input
// ends, which happens when dream exits however it exits; and on Linux the
// kernel kills it when dream dies (Pdeathsig).
package gym

import (
	"bufio"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dreamrl/dream/envs"
)

// Prefix marks a Gymnasium environment in an environment name:
// "gym:CartPole-v1" is gymnasium.make("CartPole-v1").
const Prefix = "gym:"

// DefaultPython is the interpreter that runs the bridge when none is
// named: python3, looked up on PATH.
const DefaultPython = "python3"

//go:embed bridge.py
var bridgeSource []byte

// Errors a caller branches on.
var (
	// ErrNoPython reports that the interpreter cannot be run.
	ErrNoPython = errors.New("gym: no Python")
	// ErrNoModule reports that the interpreter lacks gymnasium or numpy.
	ErrNoModule = errors.New("gym: missing Python module")
	// ErrUnknownID reports an ID that Gymnasium does not know.
	ErrUnknownID = errors.New("gym: unknown environment")
	// ErrSpace reports a space dream cannot use.
	ErrSpace = errors.New("gym: unsupported space")
	// ErrBridge reports a child that failed: it died, raised, or wrote
	// what is not the protocol.
	ErrBridge = errors.New("gym: bridge failed")
)

// Limits on what an environment declares.
const (
	// maxActionDim bounds the dimension of a Box of actions.
	maxActionDim = 4096
	// maxObsDim bounds the dimension of a state observation.
	maxObsDim = 1 << 20
	// maxDiscrete bounds a Discrete space (its one-hot).
	maxDiscrete = 1 << 16
)

// closeGrace is how long Close waits for the child to exit by itself
// before it kills it.
const closeGrace = 2 * time.Second

// ValidID reports whether id has the form of a Gymnasium ID: an optional
// namespace and '/', a name and an optional version ("CartPole-v1",
// "ALE/Pong-v5"), of letters, digits, '_', '-', '.' and ':'.
func ValidID(id string) bool {
	if id == "" || len(id) > 200 || strings.Count(id, "/") > 1 {
		return false
	}
	for _, part := range strings.Split(id, "/") {
		if part == "" {
			return false
		}
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}

// AllowedIDs describes the IDs ValidID accepts.
const AllowedIDs = `a Gymnasium ID such as CartPole-v1 or ALE/Pong-v5: letters, digits, '_', '-', '.', ':' and at most one '/'`

// Env is a Gymnasium environment in a Python child process; it
// implements envs.Simulator. Reset and Step are round trips to the child.
// When the child dies, raises or writes garbage they panic with an
// *envs.Failure (see there), and so does every later call.
//
// An Env is not safe for concurrent use; separate Envs may be used on
// separate goroutines (each has its own child).
type Env struct {
	id     string
	python string
	proc   *process
	c      conn

	action, vector envs.Space
	// finite tells that the observation space is Discrete: finitely many
	// states, each one observation.
	finite bool
	// discreteObs is n of a Discrete observation space (one-hot of n),
	// 0 for a Box.
	discreteObs int
	// frames is pixel mode: a frame comes with every observation, and
	// no observation vector (state mode: the vector, and no frame).
	frames   bool
	maxSteps int

	state    []float64 // the raw observation
	pic      frame     // the newest frame (pixels owned by Env)
	picValid bool      // pic shows the current state
	resize   resizer
	envNanos uint64

	fail   *envs.Failure
	closed bool
	clean  runtime.Cleanup
}

var (
	_ envs.Simulator = (*Env)(nil)
	_ envs.Declarer  = (*Env)(nil)
)

// New starts a child running gymnasium.make(id, **kwargs) and returns its
// Env. opts.Python chooses the interpreter, opts.GymKwargs the keyword
// arguments (render_mode defaults to "rgb_array"); opts.Obs tells whether
// frames (pixels) or observation vectors (state) come with every step.
// Errors are one line and wrap ErrNoPython, ErrNoModule, ErrUnknownID,
// ErrSpace or ErrBridge.
func New(id string, opts envs.Options) (*Env, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, fmt.Errorf("%w %q: malformed ID (allowed: %s)", ErrUnknownID, id, AllowedIDs)
	}
	kwargs := json.RawMessage("{}")
	if opts.GymKwargs != "" {
		kwargs = json.RawMessage(opts.GymKwargs)
	}
	python := opts.Python
	if python == "" {
		python = DefaultPython
	}
	e := &Env{id: id, python: python, frames: opts.Obs != envs.ObsState}
	p, err := startBridge(python)
	if err != nil {
		return nil, err
	}
	e.proc = p
	e.c = conn{w: p.stdin, r: bufio.NewReaderSize(p.stdout, 1<<16)}
	// The child is killed with its Env if nobody closes it.
	e.clean = runtime.AddCleanup(e, func(p *process) { p.kill() }, p)
	if err := e.handshake(kwargs); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// handshake reads the hello, sends the make request and reads the spaces.
func (e *Env) handshake(kwargs json.RawMessage) error {
	tag, p, err := e.c.recv(maxJSON)
	e.proc.started()
	if err != nil {
		if errors.Is(err, errGarbage) {
			return fmt.Errorf("%w: %s is not a Python that runs dream's bridge: it wrote %s where the hello was expected", ErrNoPython, e.python, garbageText(err))
		}
		return e.startError(err)
	}
	var h hello
	if tag == tagError {
		return e.bridgeError(p, "start")
	}
	if tag != tagHello || decodeJSON(p, &h) != nil || h.Magic != magic {
		return fmt.Errorf("%w: %s is not a Python that runs dream's bridge: its first message is not the hello", ErrNoPython, e.python)
	}
	if h.Protocol != ProtocolVersion {
		return fmt.Errorf("%w: the bridge speaks protocol %d (allowed: %d)", ErrBridge, h.Protocol, ProtocolVersion)
	}
	req, _ := json.Marshal(makeRequest{ID: e.id, Kwargs: kwargs, Frames: e.frames, Vector: !e.frames})
	if err := e.c.send(tagMake, req); err != nil {
		return e.startError(err)
	}
	tag, p, err = e.c.recv(maxJSON)
	if err != nil {
		return e.startError(err)
	}
	if tag == tagError {
		return e.bridgeError(p, "make")
	}
	var in info
	if tag != tagInfo || decodeJSON(p, &in) != nil {
		return fmt.Errorf("%w: the bridge answered the make request with %s", ErrBridge, tagName(tag))
	}
	return e.setSpaces(in)
}

// setSpaces maps the environment's spaces onto dream's.
func (e *Env) setSpaces(in info) error {
	a := in.Action
	switch a.Type {
	case "Discrete":
		if a.N < 1 || a.N > maxDiscrete {
			return fmt.Errorf("%w: %s has the action space Discrete(%d) (allowed: 1 to %d actions)", ErrSpace, e.id, a.N, maxDiscrete)
		}
		e.action = envs.Discrete(a.N)
	case "Box":
		low, high, n, err := bounds(a)
		if err != nil {
			return fmt.Errorf("%w: %s has an action space %v", ErrSpace, e.id, err)
		}
		if n < 1 || n > maxActionDim {
			return fmt.Errorf("%w: %s has a Box of %d actions (allowed: 1 to %d)", ErrSpace, e.id, n, maxActionDim)
		}
		for i := range low {
			if math.IsInf(low[i], 0) || math.IsInf(high[i], 0) || math.IsNaN(low[i]) || math.IsNaN(high[i]) || low[i] > high[i] {
				return fmt.Errorf("%w: %s has an action space Box with bounds [%g, %g] in dimension %d (allowed: finite bounds, low ≤ high; a planner samples inside them)", ErrSpace, e.id, low[i], high[i], i)
			}
		}
		e.action = envs.Box(low, high, n)
	default:
		return fmt.Errorf("%w: %s has the action space %s (allowed: Discrete, Box)", ErrSpace, e.id, spaceText(a))
	}
	if in.MaxEpisodeSteps != nil {
		e.maxSteps = *in.MaxEpisodeSteps
	}
	e.finite = in.Observation.Type == "Discrete"
	if e.frames {
		return nil
	}
	o := in.Observation
	switch o.Type {
	case "Discrete":
		if o.N < 1 || o.N > maxDiscrete {
			return fmt.Errorf("%w: %s has the observation space Discrete(%d) (allowed: 1 to %d states)", ErrSpace, e.id, o.N, maxDiscrete)
		}
		e.discreteObs = o.N
		e.vector = envs.Box([]float64{0}, []float64{1}, o.N)
		e.state = make([]float64, 1)
	case "Box":
		low, high, n, err := bounds(o)
		if err != nil {
			return fmt.Errorf("%w: %s has an observation space %v", ErrSpace, e.id, err)
		}
		if n < 1 || n > maxObsDim {
			return fmt.Errorf("%w: %s has a Box of %d observations (allowed: 1 to %d)", ErrSpace, e.id, n, maxObsDim)
		}
		e.vector = envs.Box(low, high, n)
		e.state = make([]float64, n)
	default:
		return fmt.Errorf("%w: %s has the observation space %s (allowed with --obs state: Box, Discrete; --obs pixels renders frames instead)", ErrSpace, e.id, spaceText(o))
	}
	return nil
}

// bounds returns a Box's flattened bounds and its number of elements.
func bounds(s spaceInfo) (low, high []float64, n int, err error) {
	n = 1
	for _, d := range s.Shape {
		if d < 0 || d > maxObsDim {
			return nil, nil, 0, fmt.Errorf("Box of shape %v (allowed: at most %d elements)", s.Shape, maxObsDim)
		}
		n *= d
		if n > maxObsDim {
			return nil, nil, 0, fmt.Errorf("Box of shape %v (allowed: at most %d elements)", s.Shape, maxObsDim)
		}
	}
	if len(s.Low) != n || len(s.High) != n {
		return nil, nil, 0, fmt.Errorf("Box of %d elements with %d and %d bounds", n, len(s.Low), len(s.High))
	}
	low, high = make([]float64, n), make([]float64, n)
	for i := range low {
		low[i], high[i] = float64(s.Low[i]), float64(s.High[i])
	}
	return low, high, n, nil
}

// spaceText names an unsupported space by its repr, or its type.
func spaceText(s spaceInfo) string {
	if s.Repr != "" {
		return s.Repr
	}
	return s.Type
}

// ID is the Gymnasium ID of the environment.
func (e *Env) ID() string { return e.id }

// MaxEpisodeSteps is the environment's time limit (its spec's
// max_episode_steps), 0 if it has none.
func (e *Env) MaxEpisodeSteps() int { return e.maxSteps }

// Traits declares the environment's time limit (MaxEpisodeSteps) and,
// for a Discrete observation space, finitely many states (the frame of
// such an environment, FrozenLake's say, draws its one state); the budget
// is left to the agent.
func (e *Env) Traits() envs.Traits {
	return envs.Traits{Actions: e.action.Kind, TimeLimit: e.maxSteps, FiniteStates: e.finite}
}

// EnvTime is the time the child spent in the environment (reset or step,
// and render in pixel mode) during the last Reset or Step: the rest of a
// round trip is the bridge's overhead.
func (e *Env) EnvTime() time.Duration { return time.Duration(e.envNanos) }

// ActionSpace is the environment's action space.
func (e *Env) ActionSpace() envs.Space { return e.action }

// VectorSpace is the space of state observations: the environment's Box,
// or the one-hot of a Discrete space. It is the zero Space in pixel mode,
// where observations are frames.
func (e *Env) VectorSpace() envs.Space { return e.vector }

// Reset resets the environment with reset(seed=seed).
func (e *Env) Reset(seed uint64) {
	e.check("reset")
	if err := e.c.sendSeed(seed); err != nil {
		e.failed("reset", err)
	}
	e.readObs("reset")
}

// Step steps the environment with the action: the index a[0] for a
// Discrete space, the vector cast to the Box's dtype for a Box.
func (e *Env) Step(a []float64) (reward float64, terminated, truncated bool) {
	e.check("step")
	if len(a) != e.action.Dim() {
		panic(fmt.Sprintf("gym: Step with an action of %d numbers for %s", len(a), e.action))
	}
	if err := e.c.sendAction(a); err != nil {
		e.failed("step", err)
	}
	o := e.readObs("step")
	return o.Reward, o.Terminated, o.Truncated
}

// readObs reads an observation reply and keeps its parts.
func (e *Env) readObs(op string) obsReply {
	tag, p, err := e.c.recv(maxPayload)
	if err != nil {
		e.failed(op, err)
	}
	if tag == tagError {
		e.failWith(e.bridgeError(p, op))
	}
	if tag != tagObs {
		e.failed(op, fmt.Errorf("%w: %s where an observation was expected", errGarbage, tagName(tag)))
	}
	o, err := decodeObs(p)
	if err != nil {
		e.failed(op, err)
	}
	want := len(e.state) // nil in pixel mode
	if o.N != want {
		e.failed(op, fmt.Errorf("%w: an observation of %d numbers (allowed: %d)", errGarbage, o.N, want))
	}
	if e.frames && o.Frame.H == 0 {
		e.failed(op, fmt.Errorf("%w: an observation without its frame", errGarbage))
	}
	for i := range o.N {
		e.state[i] = math.Float64frombits(binary.LittleEndian.Uint64(o.Vector[8*i:]))
	}
	e.envNanos = o.EnvNanos
	e.picValid = false
	if e.frames {
		e.keepFrame(o.Frame)
	}
	return o
}

// keepFrame copies a frame out of the connection's buffer.
func (e *Env) keepFrame(f frame) {
	e.pic.H, e.pic.W = f.H, f.W
	e.pic.Pix = append(e.pic.Pix[:0], f.Pix...)
	e.picValid = true
}

// Vector writes the state observation: the environment's observation,
// flattened, or the one-hot of a Discrete one. In pixel mode there is
// none and dst is left alone.
func (e *Env) Vector(dst []float64) {
	if e.discreteObs > 0 {
		clear(dst)
		if i := int(e.state[0]); i >= 0 && i < len(dst) {
			dst[i] = 1
		}
		return
	}
	copy(dst, e.state)
}

// State returns the environment's latest observation, flattened (the
// index of a Discrete one); empty in pixel mode, where the child sends
// frames only.
func (e *Env) State() []float64 { return e.state }

// Render draws the environment's render() frame into dst, resized to
// dst's bounds by area averaging. In state mode it asks the child for
// the frame.
func (e *Env) Render(dst *image.RGBA) {
	e.check("render")
	if !e.picValid {
		if err := e.c.send(tagFrame, nil); err != nil {
			e.failed("render", err)
		}
		tag, p, err := e.c.recv(maxPayload)
		if err != nil {
			e.failed("render", err)
		}
		if tag == tagError {
			e.failWith(e.bridgeError(p, "render"))
		}
		if tag != tagPic {
			e.failed("render", fmt.Errorf("%w: %s where a frame was expected", errGarbage, tagName(tag)))
		}
		f, err := decodeFrame(p)
		if err != nil || f.H == 0 {
			e.failed("render", fmt.Errorf("%w: an empty frame", errGarbage))
		}
		e.keepFrame(f)
	}
	e.resize.draw(dst, e.pic)
}

// Close ends the child: it asks it to quit, and kills it if it has not
// exited within two seconds. It is safe to call more than once.
func (e *Env) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	e.clean.Stop()
	if e.fail == nil {
		e.c.send(tagQuit, nil) // the child may be gone already
	}
	e.proc.stop(closeGrace)
	return nil
}

// check panics with the Env's failure, if it failed, or with a failure
// saying it was closed.
func (e *Env) check(op string) {
	if e.fail != nil {
		panic(e.fail)
	}
	if e.closed {
		e.fail = &envs.Failure{Err: fmt.Errorf("%w: %s of %s after Close", ErrBridge, op, e.id)}
		panic(e.fail)
	}
}

// failed stops the child after an I/O error or garbage during op and
// panics with the failure that says which.
func (e *Env) failed(op string, err error) {
	if errors.Is(err, errGarbage) {
		e.proc.kill()
		e.failWith(fmt.Errorf("%w: the Python process of %s wrote what is not dream's protocol during %s (%s); it was stopped", ErrBridge, e.id, op, garbageText(err)))
	}
	// The child's output ended or its input broke: it is exiting.
	status := e.proc.wait(closeGrace)
	msg := fmt.Sprintf("the Python process of %s died during %s (%s)", e.id, op, status)
	if last := e.proc.lastWords(); last != "" {
		msg += "; its last words: " + last
	}
	e.failWith(fmt.Errorf("%w: %s", ErrBridge, msg))
}

// failWith records err as the Env's failure, ends the child and panics.
func (e *Env) failWith(err error) {
	e.fail = &envs.Failure{Err: err}
	e.closed = true
	e.clean.Stop()
	e.proc.kill()
	e.proc.wait(closeGrace)
	panic(e.fail)
}

// garbageText is the description of a garbage error without its sentinel.
func garbageText(err error) string {
	return strings.TrimPrefix(err.Error(), errGarbage.Error()+": ")
}

// tagName names a message tag for an error.
func tagName(tag byte) string {
	if tag >= ' ' && tag < 0x7f {
		return fmt.Sprintf("a message %q", rune(tag))
	}
	return fmt.Sprintf("a message tagged %#x", tag)
}

// startError explains an I/O error during the handshake: the child
// exited (its last words say why) or did not answer in time.
func (e *Env) startError(err error) error {
	status := e.proc.wait(closeGrace)
	if e.proc.timedOut.Load() {
		return fmt.Errorf("%w: %s did not answer within %s (allowed: a Python 3 interpreter with numpy; --python PATH)", ErrNoPython, e.python, helloTimeout)
	}
	msg := fmt.Sprintf("%s exited before the environment was made (%s)", e.python, status)
	if last := e.proc.lastWords(); last != "" {
		msg += ": " + last
	}
	return fmt.Errorf("%w: %s", ErrBridge, msg)
}

// bridgeError turns the bridge's error reply during op into an error.
func (e *Env) bridgeError(p []byte, op string) error {
	var be bridgeError
	if decodeJSON(p, &be) != nil {
		return fmt.Errorf("%w: the Python process of %s wrote a malformed error during %s", ErrBridge, e.id, op)
	}
	msg := oneLine(be.Message)
	switch be.Kind {
	case "module":
		module := "gymnasium"
		if strings.Contains(msg, "numpy") {
			module = "numpy"
		}
		return fmt.Errorf("%w: Python %s has no module %s (install it: %s -m pip install %s, or choose another interpreter with --python)", ErrNoModule, e.python, module, e.python, module)
	case "unknown_id":
		return fmt.Errorf("%w %q: %s (list the known IDs: %s -c \"import gymnasium; gymnasium.pprint_registry()\")", ErrUnknownID, e.id, msg, e.python)
	case "make":
		return fmt.Errorf("%w: gymnasium.make(%q) raised %s: %s", ErrBridge, e.id, be.Type, msg)
	case "frame":
		return fmt.Errorf("%w: %s cannot be observed in pixels during %s: %s (allowed: an environment with an rgb_array render, or --obs state)", ErrBridge, e.id, op, msg)
	}
	return fmt.Errorf("%w: %s during %s: %s", ErrBridge, e.id, op, msg)
}

// oneLine folds a message onto one line and keeps it short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

// writeScript writes the embedded bridge to a temporary file and returns
// its path.
func writeScript() (string, error) {
	f, err := os.CreateTemp("", "dream-gym-*.py")
	if err != nil {
		return "", fmt.Errorf("%w: write the bridge: %v", ErrBridge, err)
	}
	_, err = f.Write(bridgeSource)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: write the bridge: %v", ErrBridge, err)
	}
	return f.Name(), nil
}

// lookPython resolves the interpreter's name or path.
func lookPython(python string) (string, error) {
	path, err := exec.LookPath(python)
	if err != nil {
		if strings.ContainsRune(python, os.PathSeparator) {
			return "", fmt.Errorf("%w: %s is not an executable file (allowed: a Python 3 interpreter with numpy and gymnasium, --python PATH)", ErrNoPython, python)
		}
		return "", fmt.Errorf("%w: %s is not on PATH (install Python 3, or name an interpreter with --python PATH)", ErrNoPython, python)
	}
	return path, nil
}

// declared caches Declared's answers by ID, interpreter and kwargs: the
// traits of a Gymnasium environment cost a child process to read.
var declared sync.Map // traitsKey → traitsAnswer

type traitsKey struct{ id, python, kwargs string }

type traitsAnswer struct {
	t   envs.Traits
	err error
}

// Declared returns the Traits of the environment New(id, opts) would
// make, starting a child once per ID, interpreter and kwargs in a process
// and remembering the answer (errors included). opts.Obs does not matter.
func Declared(id string, opts envs.Options) (envs.Traits, error) {
	key := traitsKey{id, opts.Python, opts.GymKwargs}
	if a, ok := declared.Load(key); ok {
		return a.(traitsAnswer).t, a.(traitsAnswer).err
	}
	opts.Obs = envs.ObsState
	var a traitsAnswer
	e, err := New(id, opts)
	if err != nil {
		a.err = err
	} else {
		a.t = envs.TraitsOf(e)
		a.err = e.Close()
	}
	declared.Store(key, a)
	return a.t, a.err
}
