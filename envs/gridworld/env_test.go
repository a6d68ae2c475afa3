package gridworld

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
)

// cell is a (row, col) pair.
type cell [2]int

// sigmas is the Monte Carlo tolerance in standard errors: a correct
// frequency lies this far from its probability with chance below 1e-5.
const sigmas = 4.5

// checkFrequencies steps n times from (row, col) with action, putting the
// agent back before each step, and compares the frequency of each
// destination with want, within sigmas standard errors √(p(1−p)/n).
func checkFrequencies(t *testing.T, e *Env, row, col, action int, want map[cell]float64, n int, seed uint64) {
	t.Helper()
	e.Reset(seed)
	count := map[cell]int{}
	for range n {
		if err := e.SetState([]float64{float64(row), float64(col)}); err != nil {
			t.Fatal(err)
		}
		e.Step([]float64{float64(action)})
		s := e.State()
		count[cell{int(s[0]), int(s[1])}]++
	}
	for c, k := range count {
		if want[c] == 0 {
			t.Errorf("from (%d, %d) action %d: reached %v %d times, want never", row, col, action, c, k)
		}
	}
	for c, p := range want {
		got := float64(count[c]) / float64(n)
		tol := sigmas * math.Sqrt(p*(1-p)/float64(n))
		if math.Abs(got-p) > tol {
			t.Errorf("from (%d, %d) action %d: P(%v) ≈ %.4f, want %.4f ± %.4f", row, col, action, c, got, p, tol)
		}
	}
}

// checkTransitions compares Transitions with want to 1e-12.
func checkTransitions(t *testing.T, e *Env, row, col, action int, want map[cell]float64) {
	t.Helper()
	got := map[cell]float64{}
	total := 0.0
	for _, o := range e.Transitions(row, col, action) {
		if o.Prob <= 0 {
			t.Errorf("outcome %+v with non-positive probability", o)
		}
		got[cell{o.Row, o.Col}] += o.Prob
		total += o.Prob
	}
	if math.Abs(total-1) > 1e-12 {
		t.Errorf("from (%d, %d) action %d: probabilities sum to %v", row, col, action, total)
	}
	for c := range got {
		if math.Abs(got[c]-want[c]) > 1e-12 {
			t.Errorf("from (%d, %d) action %d: P(%v) = %v, want %v", row, col, action, c, got[c], want[c])
		}
	}
	for c, p := range want {
		if _, ok := got[c]; !ok && p > 0 {
			t.Errorf("from (%d, %d) action %d: %v missing (want %v)", row, col, action, c, p)
		}
	}
}

// gymMove is frozen_lake.py's inc(): one move, clamped to the grid.
func gymMove(rows, cols, r, c, a int) cell {
	switch a {
	case 0:
		c = max(c-1, 0)
	case 1:
		r = min(r+1, rows-1)
	case 2:
		c = min(c+1, cols-1)
	case 3:
		r = max(r-1, 0)
	}
	return cell{r, c}
}

// gymTransition is one entry of FrozenLake-v1's P[s][a].
type gymTransition struct {
	prob       float64
	to         cell
	reward     float64
	terminated bool
}

// gymP ports FrozenLake-v1's transition table (is_slippery=True) from
// gymnasium/envs/toy_text/frozen_lake.py.
func gymP(desc []string, r, c, a int) []gymTransition {
	rows, cols := len(desc), len(desc[0])
	letter := desc[r][c]
	if letter == 'G' || letter == 'H' {
		return []gymTransition{{1, cell{r, c}, 0, true}}
	}
	var li []gymTransition
	for _, b := range []int{(a + 3) % 4, a, (a + 1) % 4} {
		to := gymMove(rows, cols, r, c, b)
		nl := desc[to[0]][to[1]]
		reward := 0.0
		if nl == 'G' {
			reward = 1
		}
		li = append(li, gymTransition{1.0 / 3.0, to, reward, nl == 'G' || nl == 'H'})
	}
	return li
}

func TestFrozenLakeExact(t *testing.T) {
	tests := []struct {
		name     string
		env      *Env
		desc     []string
		maxSteps int
	}{
		{"4x4", FrozenLake4x4(), []string{"SFFF", "FHFH", "FFFH", "HFFG"}, 100},
		{"8x8", FrozenLake8x8(), []string{"SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.env.Map()
			want := strings.ReplaceAll(strings.Join(tc.desc, "\n"), "F", ".")
			var got []string
			for r := range m.Rows {
				got = append(got, string(tilesBytes(m.Tiles[r*m.Cols:(r+1)*m.Cols])))
			}
			if strings.Join(got, "\n") != want {
				t.Fatalf("map\n%s\nwant\n%s", strings.Join(got, "\n"), want)
			}
			if m.MaxSteps != tc.maxSteps {
				t.Errorf("max_steps %d, want %d", m.MaxSteps, tc.maxSteps)
			}
			// Every cell and action: Transitions equals Gymnasium's P (merged).
			for r := range m.Rows {
				for c := range m.Cols {
					for a := range 4 {
						gym := map[cell]float64{}
						for _, g := range gymP(tc.desc, r, c, a) {
							gym[g.to] += g.prob
							tile := tc.desc[g.to[0]][g.to[1]]
							for _, o := range tc.env.Transitions(r, c, a) {
								if (cell{o.Row, o.Col}) == g.to && (o.Reward != g.reward || o.Terminal != g.terminated) {
									t.Errorf("(%d, %d) a=%d → %v (%c): reward %v terminal %v, want %v %v", r, c, a, g.to, tile, o.Reward, o.Terminal, g.reward, g.terminated)
								}
							}
						}
						checkTransitions(t, tc.env, r, c, a, gym)
					}
				}
			}
		})
	}
}

func tilesBytes(ts []Tile) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

func TestFrozenLakeOffGridStaysPut(t *testing.T) {
	e := FrozenLake4x4()
	tests := []struct {
		name     string
		row, col int
		action   int
		want     map[cell]float64
	}{
		{"corner up", 0, 0, Up, map[cell]float64{{0, 0}: 2.0 / 3, {0, 1}: 1.0 / 3}},
		{"corner left", 0, 0, Left, map[cell]float64{{0, 0}: 2.0 / 3, {1, 0}: 1.0 / 3}},
		{"right corner right", 0, 3, Right, map[cell]float64{{0, 3}: 2.0 / 3, {1, 3}: 1.0 / 3}},
		{"bottom down", 3, 1, Down, map[cell]float64{{3, 1}: 1.0 / 3, {3, 0}: 1.0 / 3, {3, 2}: 1.0 / 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkTransitions(t, e, tc.row, tc.col, tc.action, tc.want)
		})
	}
}

// Slip probabilities of FrozenLake by seeded Monte Carlo: from a cell
// whose four neighbours are distinct, each action goes to (a−1) mod 4, a
// and (a+1) mod 4 with probability 1/3 each.
func TestFrozenLakeSlipMonteCarlo(t *testing.T) {
	const n = 30000
	tests := []struct {
		name     string
		env      *Env
		row, col int
	}{
		{"4x4", FrozenLake4x4(), 1, 2},
		{"8x8", FrozenLake8x8(), 4, 4},
	}
	for _, tc := range tests {
		m := tc.env.Map()
		for a := range 4 {
			t.Run(fmt.Sprintf("%s/action%d", tc.name, a), func(t *testing.T) {
				want := map[cell]float64{}
				for _, b := range []int{(a + 3) % 4, a, (a + 1) % 4} {
					want[gymMove(m.Rows, m.Cols, tc.row, tc.col, b)] += 1.0 / 3
				}
				checkTransitions(t, tc.env, tc.row, tc.col, a, want)
				checkFrequencies(t, tc.env, tc.row, tc.col, a, want, n, uint64(10+a))
			})
		}
	}
}

// The map format's slip and slip_tiles by seeded Monte Carlo.
func TestSlipMonteCarlo(t *testing.T) {
	const n = 30000
	const grid = "\n.....\n..I..\n..S..\n....G\n"
	tests := []struct {
		name     string
		header   string
		row, col int
		slip     float64
	}{
		{"ice slips", "slip = 0.3\n", 1, 2, 0.3},
		{"floor exact under ice", "slip = 0.3\nslip_tiles = ice\n", 2, 2, 0},
		{"floor slips under all", "slip = 0.3\nslip_tiles = all\n", 2, 2, 0.3},
		{"fraction", "slip = 1/5\nslip_tiles = all\n", 2, 2, 0.2},
		{"certain slip", "slip = 1\n", 1, 2, 1},
	}
	for _, tc := range tests {
		m, err := ParseMap(strings.NewReader(tc.header+grid), tc.name)
		if err != nil {
			t.Fatal(err)
		}
		e := New(m)
		for a := range 4 {
			t.Run(fmt.Sprintf("%s/action%d", tc.name, a), func(t *testing.T) {
				want := map[cell]float64{}
				for _, d := range []struct {
					b int
					p float64
				}{{(a + 3) % 4, tc.slip / 2}, {a, 1 - tc.slip}, {(a + 1) % 4, tc.slip / 2}} {
					if d.p > 0 {
						want[gymMove(m.Rows, m.Cols, tc.row, tc.col, d.b)] += d.p
					}
				}
				checkTransitions(t, e, tc.row, tc.col, a, want)
				checkFrequencies(t, e, tc.row, tc.col, a, want, n, uint64(20+a))
			})
		}
	}
}

// windyWant is Sutton & Barto's stochastic wind, written independently of
// the package: the push of the column left is w−1, w or w+1 with
// probability 1/3 each where w ≠ 0, applied with the move and clamped.
func windyWant(r, c, a int) map[cell]float64 {
	wind := []int{0, 0, 0, 1, 1, 1, 2, 2, 1, 0}
	dr := map[int]int{Left: 0, Down: 1, Right: 0, Up: -1}[a]
	dc := map[int]int{Left: -1, Down: 0, Right: 1, Up: 0}[a]
	pushes := []int{0}
	if w := wind[c]; w != 0 {
		pushes = []int{w - 1, w, w + 1}
	}
	want := map[cell]float64{}
	for _, p := range pushes {
		to := cell{min(max(r+dr-p, 0), 6), min(max(c+dc, 0), 9)}
		want[to] += 1 / float64(len(pushes))
	}
	return want
}

func TestWindyWindMonteCarlo(t *testing.T) {
	const n = 30000
	e := Windy()
	tests := []struct {
		name             string
		row, col, action int
	}{
		{"calm column", 3, 1, Right},
		{"wind 1 left", 3, 4, Left},
		{"wind 2 right", 3, 6, Right},
		{"wind 2 down", 6, 7, Down},
		{"wind 1 up", 5, 8, Up},
		{"clamped at the top", 0, 6, Up},
		{"clamped at the bottom", 6, 3, Down},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := windyWant(tc.row, tc.col, tc.action)
			checkTransitions(t, e, tc.row, tc.col, tc.action, want)
			checkFrequencies(t, e, tc.row, tc.col, tc.action, want, n, 7)
		})
	}
	// Every cell and action, exactly.
	for r := range 7 {
		for c := range 10 {
			for a := range 4 {
				if (cell{r, c}) != (cell{3, 7}) {
					checkTransitions(t, e, r, c, a, windyWant(r, c, a))
				}
			}
		}
	}
}

func TestWindyRewards(t *testing.T) {
	e := Windy()
	m := e.Map()
	if m.Rows != 7 || m.Cols != 10 || m.StartRow != 3 || m.StartCol != 0 || m.At(3, 7) != Goal || m.MaxSteps != 200 {
		t.Fatalf("windy map %d×%d start (%d, %d) max_steps %d", m.Rows, m.Cols, m.StartRow, m.StartCol, m.MaxSteps)
	}
	for r := range 7 {
		for c := range 10 {
			for a := range 4 {
				if r == 3 && c == 7 {
					continue // the goal: terminal, nothing more to pay
				}
				for _, o := range e.Transitions(r, c, a) {
					if o.Reward != -1 {
						t.Errorf("(%d, %d) a=%d → (%d, %d): reward %v, want −1", r, c, a, o.Row, o.Col, o.Reward)
					}
					if o.Terminal != (o.Row == 3 && o.Col == 7) {
						t.Errorf("(%d, %d) a=%d → (%d, %d): terminal %v", r, c, a, o.Row, o.Col, o.Terminal)
					}
				}
			}
		}
	}
}

// Step's outcome is always one of Transitions' outcomes, with the same
// reward and termination, on every map, cell and action.
func TestStepMatchesTransitions(t *testing.T) {
	envsByName := map[string]*Env{
		"frozenlake-4x4": FrozenLake4x4(), "frozenlake-8x8": FrozenLake8x8(),
		"windy": Windy(), "cliff-ice": CliffIce(),
	}
	for _, name := range []string{"four-rooms", "lake-16x16"} {
		m, err := LoadMap(filepath.Join(testdataMaps, name+".map"))
		if err != nil {
			t.Fatal(err)
		}
		envsByName[name] = New(m)
	}
	for name, e := range envsByName {
		t.Run(name, func(t *testing.T) {
			m := e.Map()
			e.Reset(99)
			for r := range m.Rows {
				for c := range m.Cols {
					if m.At(r, c) == Wall {
						continue
					}
					for a := range 4 {
						outs := e.Transitions(r, c, a)
						for range 8 {
							if err := e.SetState([]float64{float64(r), float64(c)}); err != nil {
								t.Fatal(err)
							}
							reward, term, _ := e.Step([]float64{float64(a)})
							s := e.State()
							found := false
							for _, o := range outs {
								if o.Row == int(s[0]) && o.Col == int(s[1]) {
									found = o.Reward == reward && o.Terminal == term
								}
							}
							if !found {
								t.Fatalf("(%d, %d) a=%d: step gave %v reward %v terminated %v, not among %+v", r, c, a, s, reward, term, outs)
							}
						}
					}
				}
			}
		})
	}
}

func TestTerminationAndTruncation(t *testing.T) {
	tests := []struct {
		name     string
		env      *Env
		maxSteps int
	}{
		{"4x4", FrozenLake4x4(), 100},
		{"8x8", FrozenLake8x8(), 200},
		{"windy", Windy(), 200},
		{"cliff-ice", CliffIce(), 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env
			e.Reset(5)
			// Up from the top-left corner never leaves the top row's first
			// two cells (or, in windy, the calm top-left corner), so only
			// the time limit ends the episode.
			for i := 1; i <= tc.maxSteps; i++ {
				if err := e.SetState([]float64{0, 0}); err != nil {
					t.Fatal(err)
				}
				_, term, trunc := e.Step([]float64{Up})
				if term {
					t.Fatalf("step %d terminated", i)
				}
				if trunc != (i == tc.maxSteps) {
					t.Fatalf("step %d: truncated %v, want %v", i, trunc, i == tc.maxSteps)
				}
			}
			if e.Steps() != tc.maxSteps {
				t.Errorf("Steps() = %d, want %d", e.Steps(), tc.maxSteps)
			}
			e.Reset(5)
			if e.Steps() != 0 {
				t.Errorf("Steps() after Reset = %d", e.Steps())
			}
		})
	}
	t.Run("terminal tiles", func(t *testing.T) {
		e := FrozenLake4x4()
		for _, tc := range []struct {
			at     cell
			reward float64
		}{{cell{1, 1}, 0}, {cell{3, 3}, 0}} {
			if err := e.SetState([]float64{float64(tc.at[0]), float64(tc.at[1])}); err != nil {
				t.Fatal(err)
			}
			r, term, _ := e.Step([]float64{Right})
			if s := e.State(); r != tc.reward || !term || s[0] != float64(tc.at[0]) || s[1] != float64(tc.at[1]) {
				t.Errorf("step from terminal %v: reward %v terminated %v state %v", tc.at, r, term, s)
			}
		}
	})
	t.Run("reaching goal and hole", func(t *testing.T) {
		// From (3, 2) moving right: goal (3, 3) with 1/3, (2, 2) with 1/3,
		// and staying on (3, 2) with 1/3. Seeds make each happen.
		e := FrozenLake4x4()
		seen := map[cell]bool{}
		for seed := range uint64(200) {
			e.Reset(seed)
			if err := e.SetState([]float64{3, 2}); err != nil {
				t.Fatal(err)
			}
			r, term, trunc := e.Step([]float64{Right})
			s := cell{int(e.State()[0]), int(e.State()[1])}
			seen[s] = true
			wantR, wantTerm := 0.0, false
			if s == (cell{3, 3}) {
				wantR, wantTerm = 1, true
			}
			if r != wantR || term != wantTerm || trunc {
				t.Errorf("seed %d → %v: reward %v terminated %v truncated %v", seed, s, r, term, trunc)
			}
		}
		if len(seen) != 3 {
			t.Errorf("outcomes seen %v, want 3", seen)
		}
		// From (0, 1) moving left, slipping down lands in the hole (1, 1).
		hole := false
		for seed := range uint64(200) {
			e.Reset(seed)
			if err := e.SetState([]float64{0, 1}); err != nil {
				t.Fatal(err)
			}
			r, term, _ := e.Step([]float64{Left})
			if s := e.State(); s[0] == 1 && s[1] == 1 {
				hole = true
				if r != 0 || !term {
					t.Errorf("hole: reward %v terminated %v", r, term)
				}
			}
		}
		if !hole {
			t.Error("never fell in the hole at (1, 1)")
		}
	})
}

func TestSameSeedSameEpisode(t *testing.T) {
	run := func(seed uint64) []float64 {
		e := FrozenLake8x8()
		e.Reset(seed)
		var trace []float64
		for i := range 200 {
			r, term, trunc := e.Step([]float64{float64(i % 4)})
			trace = append(trace, e.State()[0], e.State()[1], r)
			if term || trunc {
				break
			}
		}
		return trace
	}
	a, b, c := run(1), run(1), run(2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed gave different episodes")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("seeds 1 and 2 gave the same episode")
	}
	// Reset re-seeds: a used environment replays the first episode.
	e := FrozenLake8x8()
	e.Reset(1)
	for range 50 {
		e.Step([]float64{Down})
	}
	e.Reset(1)
	var again []float64
	for i := range 200 {
		r, term, trunc := e.Step([]float64{float64(i % 4)})
		again = append(again, e.State()[0], e.State()[1], r)
		if term || trunc {
			break
		}
	}
	if fmt.Sprint(again) != fmt.Sprint(a) {
		t.Error("Reset(1) after other steps did not replay the episode")
	}
}

func TestSetState(t *testing.T) {
	e := CliffIce()
	tests := []struct {
		name string
		s    []float64
		ok   bool
	}{
		{"floor", []float64{4, 2}, true},
		{"ice", []float64{4, 4}, true},
		{"hole", []float64{5, 0}, true},
		{"goal", []float64{4, 8}, true},
		{"wall", []float64{1, 1}, false},
		{"row outside", []float64{6, 0}, false},
		{"negative column", []float64{0, -1}, false},
		{"not an integer", []float64{0.5, 0}, false},
		{"NaN", []float64{math.NaN(), 0}, false},
		{"short", []float64{0}, false},
		{"long", []float64{0, 0, 0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.Reset(0)
			err := e.SetState(tc.s)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if s := e.State(); s[0] != tc.s[0] || s[1] != tc.s[1] {
					t.Errorf("State() = %v, want %v", s, tc.s)
				}
				return
			}
			if !errors.Is(err, ErrState) {
				t.Errorf("SetState(%v) = %v, want ErrState", tc.s, err)
			}
			if s := e.State(); s[0] != 4 || s[1] != 0 {
				t.Errorf("failed SetState moved the agent to %v", s)
			}
		})
	}
}

func TestVectorAndSpaces(t *testing.T) {
	e := CliffIce()
	if got := e.ActionSpace().String(); got != "Discrete(4)" {
		t.Errorf("ActionSpace %s", got)
	}
	vs := e.VectorSpace()
	if vs.Dim() != 54 {
		t.Fatalf("VectorSpace dim %d, want 54", vs.Dim())
	}
	v := make([]float64, vs.Dim())
	for _, s := range []cell{{4, 0}, {0, 8}, {5, 3}} {
		if err := e.SetState([]float64{float64(s[0]), float64(s[1])}); err != nil {
			t.Fatal(err)
		}
		for i := range v {
			v[i] = 7
		}
		e.Vector(v)
		if !vs.Contains(v) {
			t.Errorf("vector %v outside %s", v, vs)
		}
		for i, x := range v {
			want := 0.0
			if i == s[0]*9+s[1] {
				want = 1
			}
			if x != want {
				t.Errorf("state %v: v[%d] = %v, want %v", s, i, x, want)
			}
		}
	}
}

func TestStepPanicsOnBadAction(t *testing.T) {
	for _, a := range [][]float64{nil, {4}, {-1}, {1.5}, {math.NaN()}} {
		t.Run(fmt.Sprint(a), func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.HasPrefix(fmt.Sprint(r), "gridworld: ") {
					t.Errorf("Step(%v) recovered %v, want a gridworld panic", a, r)
				}
			}()
			FrozenLake4x4().Step(a)
		})
	}
}

func TestSuccess(t *testing.T) {
	e := FrozenLake4x4()
	var _ envs.Successor = e
	e.Reset(1)
	if e.Success() {
		t.Fatal("success at the start")
	}
	if err := e.SetState([]float64{3, 3}); err != nil {
		t.Fatal(err)
	}
	if !e.Success() {
		t.Error("no success on the goal tile")
	}
	if err := e.SetState([]float64{1, 1}); err != nil {
		t.Fatal(err)
	}
	if e.Success() {
		t.Error("success in a hole")
	}
}
