package gridworld

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
)

// The actions, with FrozenLake-v1's ids.
const (
	Left  = 0
	Down  = 1
	Right = 2
	Up    = 3
)

// numActions is the size of the action space.
const numActions = 4

// move returns the (row, col) displacement of action a.
func move(a int) (dr, dc int) {
	switch a {
	case Left:
		return 0, -1
	case Down:
		return 1, 0
	case Right:
		return 0, 1
	}
	return -1, 0
}

// pcgStream is the second PCG seed word; the first is the episode's seed.
const pcgStream = 0x9e3779b97f4a7c15

// ErrState reports a state that SetState cannot take.
var ErrState = errors.New("gridworld: bad state")

// Env is a gridworld environment built from a Map. It implements
// envs.Simulator and envs.StateSetter. An Env is not safe for concurrent
// use and must not be copied (its random stream lives inside it).
type Env struct {
	m        *Map
	pcg      rand.PCG
	rng      *rand.Rand
	row, col int
	steps    int
	state    [2]float64
	vspace   envs.Space
	canvas   background
}

var (
	_ envs.Simulator   = (*Env)(nil)
	_ envs.StateSetter = (*Env)(nil)
	_ envs.Declarer    = (*Env)(nil)
)

// New builds an environment from a copy of m and resets it with seed 0.
// m must be valid (see Map.Validate; maps from ParseMap and LoadMap are);
// New panics otherwise.
func New(m *Map) *Env {
	if err := m.Validate(); err != nil {
		panic(fmt.Sprintf("gridworld: New: %v", err))
	}
	e := &Env{m: m.clone()}
	e.rng = rand.New(&e.pcg)
	n := m.Rows * m.Cols
	e.vspace = envs.Box([]float64{0}, []float64{1}, n)
	e.Reset(0)
	return e
}

// Traits declares the map's time limit and budget; a gridworld's frame
// shows its whole state (the agent's cell).
func (e *Env) Traits() envs.Traits {
	return envs.Traits{Actions: envs.KindDiscrete, TimeLimit: e.m.MaxSteps, FiniteStates: true, Budget: e.m.Budget}
}

// Map returns a copy of the environment's map.
func (e *Env) Map() *Map { return e.m.clone() }

// Steps is the number of steps taken since the last Reset.
func (e *Env) Steps() int { return e.steps }

// ActionSpace is Discrete(4): 0 left, 1 down, 2 right, 3 up.
func (e *Env) ActionSpace() envs.Space { return envs.Discrete(numActions) }

// VectorSpace is Box(0, 1, (rows·cols,)): the one-hot of the agent's cell.
func (e *Env) VectorSpace() envs.Space { return e.vspace }

// Reset puts the agent on the start tile, zeroes the step count and seeds
// the environment's random stream, a PCG from math/rand/v2, from seed: the
// same seed and actions give the same episode.
func (e *Env) Reset(seed uint64) {
	e.pcg.Seed(seed, pcgStream)
	e.row, e.col = e.m.StartRow, e.m.StartCol
	e.steps = 0
}

// Vector writes the one-hot of the agent's cell into dst:
//
//	dst[i] = 1 if i = row·cols + col, else 0,  i = 0 … rows·cols − 1
func (e *Env) Vector(dst []float64) {
	if len(dst) != e.m.Rows*e.m.Cols {
		panic(fmt.Sprintf("gridworld: Vector: len(dst) = %d, want %d", len(dst), e.m.Rows*e.m.Cols))
	}
	clear(dst)
	dst[e.row*e.m.Cols+e.col] = 1
}

// State returns [row, col] of the agent. The slice is owned by the Env and
// valid until its next Reset, Step or SetState.
func (e *Env) State() []float64 {
	e.state = [2]float64{float64(e.row), float64(e.col)}
	return e.state[:]
}

// SetState puts the agent at s = [row, col], which must be integers naming
// a cell inside the grid that is not a wall. The step count and the random
// stream are left as they are. The error wraps ErrState.
func (e *Env) SetState(s []float64) error {
	if len(s) != 2 {
		return fmt.Errorf("%w: %d values, want [row, col]", ErrState, len(s))
	}
	r, c := int(s[0]), int(s[1])
	if float64(r) != s[0] || float64(c) != s[1] {
		return fmt.Errorf("%w: [%g, %g] is not a pair of integers", ErrState, s[0], s[1])
	}
	if r < 0 || r >= e.m.Rows || c < 0 || c >= e.m.Cols {
		return fmt.Errorf("%w: [%d, %d] outside the %d×%d grid", ErrState, r, c, e.m.Rows, e.m.Cols)
	}
	if e.m.At(r, c) == Wall {
		return fmt.Errorf("%w: [%d, %d] is a wall", ErrState, r, c)
	}
	e.row, e.col = r, c
	return nil
}

// Success reports whether the agent stands on a goal tile.
func (e *Env) Success() bool { return e.m.At(e.row, e.col) == Goal }

// Step applies the action a[0] ∈ {0, 1, 2, 3} as the package documentation
// describes and returns the reward and the flags. It panics on an action
// outside the action space.
func (e *Env) Step(action []float64) (reward float64, terminated, truncated bool) {
	a := actionIndex(action)
	e.steps++
	truncated = e.steps >= e.m.MaxSteps
	here := e.m.Tiles[e.row*e.m.Cols+e.col]
	if here.Terminal() {
		return 0, true, truncated
	}
	if e.slips(here) {
		half := e.m.Slip / 2
		u := e.rng.Float64()
		if u < half {
			a = (a + numActions - 1) % numActions
		} else if u >= 1-half {
			a = (a + 1) % numActions
		}
	}
	push := 0
	if e.m.Wind != nil {
		push = e.m.Wind[e.col]
		if push != 0 && e.m.WindNoise > 0 {
			k := e.m.WindNoise
			push += e.rng.IntN(2*k+1) - k
		}
	}
	e.row, e.col = e.destination(e.row, e.col, a, push)
	t := e.m.Tiles[e.row*e.m.Cols+e.col]
	return e.reward(t), t.Terminal(), truncated
}

func (e *Env) slips(t Tile) bool {
	return e.m.Slip > 0 && (e.m.SlipTiles == SlipAll || t == Ice)
}

// destination applies action a and an upward push from (r, c): clamped to
// the grid, and back to (r, c) when it lands on a wall.
func (e *Env) destination(r, c, a, push int) (int, int) {
	dr, dc := move(a)
	nr := min(max(r+dr-push, 0), e.m.Rows-1)
	nc := min(max(c+dc, 0), e.m.Cols-1)
	if e.m.Tiles[nr*e.m.Cols+nc] == Wall {
		return r, c
	}
	return nr, nc
}

func (e *Env) reward(t Tile) float64 {
	switch t {
	case Goal:
		return e.m.GoalReward
	case Hole:
		return e.m.HoleReward
	}
	return e.m.StepReward
}

func actionIndex(action []float64) int {
	if len(action) == 0 {
		panic("gridworld: Step with an empty action")
	}
	a := int(action[0])
	if float64(a) != action[0] || a < 0 || a >= numActions {
		panic(fmt.Sprintf("gridworld: action %v outside Discrete(4)", action[0]))
	}
	return a
}

// Outcome is one possible result of a step: the destination cell, its
// probability, the step's reward and whether the episode terminates.
type Outcome struct {
	Row, Col int
	Prob     float64
	Reward   float64
	Terminal bool
}

// Transitions returns the distribution of one step from (row, col) with
// action: the distinct outcomes with positive probability, summing to 1,
// in the order of the slip directions ((a−1) mod 4, a, (a+1) mod 4) and
// then of the wind push, low to high. From a terminal tile it returns the
// single outcome (row, col) with probability 1, reward 0 and Terminal set,
// as FrozenLake-v1's P does; from a wall it returns nil (the agent is never
// there). It panics on a cell outside the grid or an action outside 0 … 3.
func (e *Env) Transitions(row, col, action int) []Outcome {
	here := e.m.At(row, col)
	if action < 0 || action >= numActions {
		panic(fmt.Sprintf("gridworld: Transitions with action %d outside Discrete(4)", action))
	}
	switch {
	case here == Wall:
		return nil
	case here.Terminal():
		return []Outcome{{Row: row, Col: col, Prob: 1, Terminal: true}}
	}
	type branch struct {
		a int
		p float64
	}
	dirs := []branch{{action, 1}}
	if e.slips(here) {
		s := e.m.Slip
		dirs = []branch{{(action + numActions - 1) % numActions, s / 2}, {action, 1 - s}, {(action + 1) % numActions, s / 2}}
	}
	pushes := []branch{{0, 1}}
	if e.m.Wind != nil {
		w := e.m.Wind[col]
		pushes = []branch{{w, 1}}
		if w != 0 && e.m.WindNoise > 0 {
			k := e.m.WindNoise
			pushes = pushes[:0]
			for d := -k; d <= k; d++ {
				pushes = append(pushes, branch{w + d, 1 / float64(2*k+1)})
			}
		}
	}
	var out []Outcome
	for _, d := range dirs {
		for _, w := range pushes {
			p := d.p * w.p
			if p == 0 {
				continue
			}
			r, c := e.destination(row, col, d.a, w.a)
			merged := false
			for i := range out {
				if out[i].Row == r && out[i].Col == c {
					out[i].Prob += p
					merged = true
					break
				}
			}
			if !merged {
				t := e.m.At(r, c)
				out = append(out, Outcome{Row: r, Col: c, Prob: p, Reward: e.reward(t), Terminal: t.Terminal()})
			}
		}
	}
	return out
}
