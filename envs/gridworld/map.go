package gridworld

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Tile is one cell of a map, named by its character in a map file.
type Tile byte

// The tiles of a map. The parser stores 'F' as Floor.
const (
	Floor Tile = '.'
	Start Tile = 'S'
	Wall  Tile = '#'
	Hole  Tile = 'H'
	Goal  Tile = 'G'
	Ice   Tile = 'I'
)

// Terminal reports whether entering t ends the episode (a hole or a goal).
func (t Tile) Terminal() bool { return t == Hole || t == Goal }

func (t Tile) valid() bool {
	switch t {
	case Floor, Start, Wall, Hole, Goal, Ice:
		return true
	}
	return false
}

// SlipScope says from which tiles a move may slip.
type SlipScope int

const (
	// SlipIce makes only moves made from ice tiles slip (the default).
	SlipIce SlipScope = iota
	// SlipAll makes moves from every tile slip, as in FrozenLake.
	SlipAll
)

// String returns the header value of the scope: "ice" or "all".
func (s SlipScope) String() string {
	if s == SlipAll {
		return "all"
	}
	return "ice"
}

// MaxSide is the largest number of rows or columns of a map.
const MaxSide = 256

// maxMaxSteps bounds max_steps so that step counts never overflow.
const maxMaxSteps = 1_000_000_000

// ErrMap is wrapped by every error about a malformed map.
var ErrMap = errors.New("gridworld: bad map")

// Map is a parsed map file: the grid and the header values.
//
// Tiles holds Rows·Cols tiles in row-major order: the tile of (row, col) is
// Tiles[row·Cols + col]. A Map returned by ParseMap or LoadMap is valid
// (Validate returns nil); one built by hand must pass Validate before New.
type Map struct {
	// Name is the file name used in messages.
	Name string
	// Rows and Cols are the grid's height and width.
	Rows, Cols int
	// Tiles are the grid's cells in row-major order.
	Tiles []Tile
	// StartRow and StartCol locate the single Start tile.
	StartRow, StartCol int
	// Slip is the probability that a move goes sideways, shared equally
	// by the two perpendicular directions.
	Slip float64
	// SlipTiles says which tiles make moves slip.
	SlipTiles SlipScope
	// GoalReward, HoleReward and StepReward are the rewards for entering
	// a goal, entering a hole, and any other step.
	GoalReward, HoleReward, StepReward float64
	// MaxSteps is the time limit (truncation).
	MaxSteps int
	// Wind is nil or one upward push per column.
	Wind []int
	// WindNoise k makes the push in a windy column uniform on w−k … w+k.
	WindNoise int
	// Budget is the number of environment steps a run on this map trains
	// when it sets none; 0 declares none (the agent's default then
	// applies). It says how long the map takes to learn, not how it plays.
	Budget int
}

// At returns the tile at (row, col), which must lie inside the grid.
func (m *Map) At(row, col int) Tile {
	if row < 0 || row >= m.Rows || col < 0 || col >= m.Cols {
		panic(fmt.Sprintf("gridworld: At(%d, %d) outside a %d×%d grid", row, col, m.Rows, m.Cols))
	}
	return m.Tiles[row*m.Cols+col]
}

// Validate checks a Map's consistency: the sizes, the tiles, exactly one
// start where StartRow and StartCol say, at least one goal, and the header
// values in their documented ranges.
func (m *Map) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrMap, m.displayName(), fmt.Sprintf(format, args...))
	}
	if m.Rows < 1 || m.Rows > MaxSide || m.Cols < 1 || m.Cols > MaxSide {
		return bad("grid is %d×%d (allowed: 1 to %d rows and columns)", m.Rows, m.Cols, MaxSide)
	}
	if len(m.Tiles) != m.Rows*m.Cols {
		return bad("%d tiles for a %d×%d grid", len(m.Tiles), m.Rows, m.Cols)
	}
	starts, goals := 0, 0
	for i, t := range m.Tiles {
		if !t.valid() {
			return bad("unknown tile %q at row %d column %d (allowed: S . # H G I)", rune(t), i/m.Cols, i%m.Cols)
		}
		switch t {
		case Start:
			starts++
		case Goal:
			goals++
		}
	}
	if starts != 1 {
		return bad("%d start tiles (exactly one S is required)", starts)
	}
	if goals == 0 {
		return bad("no goal tile (at least one G is required)")
	}
	if m.StartRow < 0 || m.StartRow >= m.Rows || m.StartCol < 0 || m.StartCol >= m.Cols || m.At(m.StartRow, m.StartCol) != Start {
		return bad("start (%d, %d) is not the S tile", m.StartRow, m.StartCol)
	}
	if !(m.Slip >= 0 && m.Slip <= 1) {
		return bad("slip %g (allowed: 0 to 1)", m.Slip)
	}
	if m.SlipTiles != SlipIce && m.SlipTiles != SlipAll {
		return bad("slip_tiles %d (allowed: SlipIce, SlipAll)", m.SlipTiles)
	}
	for _, r := range [...]struct {
		name string
		v    float64
	}{{"goal_reward", m.GoalReward}, {"hole_reward", m.HoleReward}, {"step_reward", m.StepReward}} {
		if math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			return bad("%s %g (allowed: a finite number)", r.name, r.v)
		}
	}
	if m.MaxSteps < 1 || m.MaxSteps > maxMaxSteps {
		return bad("max_steps %d (allowed: 1 to %d)", m.MaxSteps, maxMaxSteps)
	}
	if m.Wind != nil && len(m.Wind) != m.Cols {
		return bad("wind has %d values for %d columns", len(m.Wind), m.Cols)
	}
	for _, w := range m.Wind {
		if w < -MaxSide || w > MaxSide {
			return bad("wind %d (allowed: %d to %d)", w, -MaxSide, MaxSide)
		}
	}
	if m.Budget < 0 || m.Budget > maxBudget {
		return bad("budget %d (allowed: 0 for none, or 1 to %d)", m.Budget, maxBudget)
	}
	if m.WindNoise < 0 || m.WindNoise > MaxSide {
		return bad("wind_noise %d (allowed: 0 to %d)", m.WindNoise, MaxSide)
	}
	return nil
}

func (m *Map) displayName() string {
	if m.Name == "" {
		return "<map>"
	}
	return m.Name
}

// clone returns a deep copy of m.
func (m *Map) clone() *Map {
	c := *m
	c.Tiles = append([]Tile(nil), m.Tiles...)
	if m.Wind != nil {
		c.Wind = append([]int(nil), m.Wind...)
	}
	return &c
}

// String writes m in the map format, so that ParseMap reads back an equal
// Map: every header key (the wind keys only when set), a blank line, then
// the grid, with floor written '.'.
func (m *Map) String() string {
	var b strings.Builder
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fmt.Fprintf(&b, "slip = %s\nslip_tiles = %s\n", num(m.Slip), m.SlipTiles)
	fmt.Fprintf(&b, "goal_reward = %s\nhole_reward = %s\nstep_reward = %s\n", num(m.GoalReward), num(m.HoleReward), num(m.StepReward))
	fmt.Fprintf(&b, "max_steps = %d\n", m.MaxSteps)
	if m.Wind != nil {
		b.WriteString("wind =")
		for _, w := range m.Wind {
			fmt.Fprintf(&b, " %d", w)
		}
		b.WriteByte('\n')
	}
	if m.Wind != nil || m.WindNoise != 0 {
		fmt.Fprintf(&b, "wind_noise = %d\n", m.WindNoise)
	}
	if m.Budget != 0 {
		fmt.Fprintf(&b, "budget = %d\n", m.Budget)
	}
	b.WriteByte('\n')
	for r := 0; r < m.Rows; r++ {
		for c := 0; c < m.Cols; c++ {
			b.WriteByte(byte(m.At(r, c)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// LoadMap reads and parses the map file at path.
func LoadMap(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gridworld: load map: %w", err)
	}
	defer f.Close()
	return ParseMap(f, path)
}

// maxLine bounds the length of one line of a map file.
const maxLine = 64 << 10

const tilesAllowed = "S start, . or F floor, # wall, H hole, G goal, I ice"

const keysAllowed = "slip, slip_tiles, goal_reward, hole_reward, step_reward, max_steps, wind, wind_noise, budget"

// maxBudget bounds a map's budget, as agent.Config bounds steps.
const maxBudget = 100_000_000

// ParseMap parses a map file (format in the package documentation) read
// from r; name is the file name used in messages. Every error wraps ErrMap
// (or is the reader's error, wrapped) and is one line naming the file, the
// line, what is wrong and what is allowed.
func ParseMap(r io.Reader, name string) (*Map, error) {
	p := parser{m: &Map{
		Name:       name,
		GoalReward: 1,
		MaxSteps:   100,
	}, seen: map[string]int{}}
	if err := p.run(r); err != nil {
		return nil, err
	}
	return p.m, nil
}

type parser struct {
	m    *Map
	seen map[string]int // header key → its line
	line int            // current line number (1-based)

	firstRow, lastRow int // lines of the grid's first and last row
	afterGrid         int // line of the first blank line after the grid
	startLine         int
	windLine          int
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s line %d: %s", ErrMap, p.m.displayName(), line, fmt.Sprintf(format, args...))
}

func (p *parser) run(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(strings.TrimRight(sc.Text(), " \t\r\v\f")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return p.errorf(p.line+1, "line longer than %d bytes (a grid row has at most %d tiles)", maxLine, MaxSide)
		}
		return fmt.Errorf("gridworld: read %s: %w", p.m.displayName(), err)
	}
	return p.finish()
}

func (p *parser) parseLine(s string) error {
	switch {
	case p.firstRow == 0 && s == "":
		return nil
	case p.firstRow == 0 && strings.Contains(s, "="):
		return p.header(s)
	case s == "":
		if p.afterGrid == 0 {
			p.afterGrid = p.line
		}
		return nil
	case strings.Contains(s, "="):
		return p.errorf(p.line, "header line %q after the grid began at line %d (header lines `key = value` come before the grid)", s, p.firstRow)
	case p.afterGrid != 0:
		return p.errorf(p.line, "grid row after the blank line %d (the grid's rows must be contiguous; blank lines are allowed only before and after it)", p.afterGrid)
	}
	return p.row(s)
}

func (p *parser) header(s string) error {
	key, val, _ := strings.Cut(s, "=")
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	if prev, ok := p.seen[key]; ok {
		return p.errorf(p.line, "header key %q repeats line %d (each key at most once)", key, prev)
	}
	p.seen[key] = p.line
	m := p.m
	var err error
	switch key {
	case "slip":
		m.Slip, err = p.number(key, val, 0, 1, "a number from 0 to 1 such as 0.3 or 2/3")
	case "slip_tiles":
		switch val {
		case "ice":
			m.SlipTiles = SlipIce
		case "all":
			m.SlipTiles = SlipAll
		default:
			err = p.errorf(p.line, "bad value %q for slip_tiles (allowed: ice, all)", val)
		}
	case "goal_reward":
		m.GoalReward, err = p.number(key, val, math.Inf(-1), math.Inf(1), "a finite number such as 1, -0.5 or 1/3")
	case "hole_reward":
		m.HoleReward, err = p.number(key, val, math.Inf(-1), math.Inf(1), "a finite number such as 0, -1 or -1/2")
	case "step_reward":
		m.StepReward, err = p.number(key, val, math.Inf(-1), math.Inf(1), "a finite number such as 0 or -0.05")
	case "max_steps":
		m.MaxSteps, err = p.integer(key, val, 1, maxMaxSteps)
	case "wind":
		p.windLine = p.line
		fields := strings.FieldsFunc(val, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(fields) == 0 {
			return p.errorf(p.line, "empty value for wind (allowed: one integer per column, such as 0 0 1 2 1 0)")
		}
		m.Wind = make([]int, len(fields))
		for i, f := range fields {
			if m.Wind[i], err = p.integer("wind", f, -MaxSide, MaxSide); err != nil {
				return err
			}
		}
	case "wind_noise":
		m.WindNoise, err = p.integer(key, val, 0, MaxSide)
	case "budget":
		m.Budget, err = p.integer(key, val, 1, maxBudget)
	default:
		return p.errorf(p.line, "unknown header key %q (allowed: %s)", key, keysAllowed)
	}
	return err
}

// number parses a decimal or a fraction a/b in [lo, hi].
func (p *parser) number(key, val string, lo, hi float64, allowed string) (float64, error) {
	fail := func() (float64, error) {
		return 0, p.errorf(p.line, "bad value %q for %s (allowed: %s)", val, key, allowed)
	}
	num, den, frac := strings.Cut(val, "/")
	x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return fail()
	}
	if frac {
		d, err := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err != nil || d == 0 {
			return fail()
		}
		x /= d
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
		return fail()
	}
	return x, nil
}

// integer parses an integer in [lo, hi].
func (p *parser) integer(key, val string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < lo || n > hi {
		return 0, p.errorf(p.line, "bad value %q for %s (allowed: an integer from %d to %d)", val, key, lo, hi)
	}
	return n, nil
}

func (p *parser) row(s string) error {
	m := p.m
	if p.firstRow == 0 {
		p.firstRow = p.line
	}
	p.lastRow = p.line
	if m.Rows == MaxSide {
		return p.errorf(p.line, "grid has more than %d rows (allowed: 1 to %d)", MaxSide, MaxSide)
	}
	col := 0
	for _, r := range s {
		col++
		if col > MaxSide {
			return p.errorf(p.line, "row has more than %d tiles (allowed: 1 to %d columns)", MaxSide, MaxSide)
		}
		var t Tile
		switch r {
		case 'S':
			t = Start
			if p.startLine != 0 {
				return p.errorf(p.line, "second start tile S in column %d (the first is on line %d; exactly one is allowed)", col, p.startLine)
			}
			p.startLine = p.line
			m.StartRow, m.StartCol = m.Rows, col-1
		case '.', 'F':
			t = Floor
		case '#', 'H', 'G', 'I':
			t = Tile(r)
		default:
			return p.errorf(p.line, "unknown tile %q in column %d (allowed: %s)", r, col, tilesAllowed)
		}
		m.Tiles = append(m.Tiles, t)
	}
	if m.Rows == 0 {
		m.Cols = col
	} else if col != m.Cols {
		return p.errorf(p.line, "row has %d tiles but the first row (line %d) has %d (all rows must have the same length)", col, p.firstRow, m.Cols)
	}
	m.Rows++
	return nil
}

func (p *parser) finish() error {
	m := p.m
	if m.Rows == 0 {
		return p.errorf(max(p.line, 1), "empty grid: the file ends without a grid row (a grid of %s is required)", tilesAllowed)
	}
	if p.startLine == 0 {
		return p.errorf(p.firstRow, "the grid (lines %d to %d) has no start tile S (exactly one is required)", p.firstRow, p.lastRow)
	}
	goal := false
	for _, t := range m.Tiles {
		goal = goal || t == Goal
	}
	if !goal {
		return p.errorf(p.firstRow, "the grid (lines %d to %d) has no goal tile G (at least one is required)", p.firstRow, p.lastRow)
	}
	if m.Wind != nil && len(m.Wind) != m.Cols {
		return p.errorf(p.windLine, "wind has %d values but the grid has %d columns (allowed: one integer per column)", len(m.Wind), m.Cols)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("gridworld: %s: parser produced an invalid map: %w", m.displayName(), err)
	}
	return nil
}
