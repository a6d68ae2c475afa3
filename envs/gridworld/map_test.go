package gridworld

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testdataMaps is the repository's folder of example maps.
const testdataMaps = "../../testdata/maps"

func TestParseMapValid(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Map
		tol  float64
	}{
		{
			name: "defaults",
			text: "S.G\n",
			want: Map{Rows: 1, Cols: 3, Tiles: []Tile{Start, Floor, Goal}, GoalReward: 1, MaxSteps: 100},
		},
		{
			name: "F is floor and every tile",
			text: "SFI\n#HG\n",
			want: Map{Rows: 2, Cols: 3, Tiles: []Tile{Start, Floor, Ice, Wall, Hole, Goal}, GoalReward: 1, MaxSteps: 100},
		},
		{
			name: "fraction and all",
			text: "slip = 2/3\nslip_tiles = all\n\nSFFF\nFHFH\nFFFH\nHFFG\n",
			want: Map{Rows: 4, Cols: 4, Tiles: tiles("S...", ".H.H", "...H", "H..G"), Slip: 2.0 / 3, SlipTiles: SlipAll, GoalReward: 1, MaxSteps: 100},
			tol:  1e-15,
		},
		{
			name: "decimals, negatives, spacing, CRLF and trailing blanks",
			text: "\n\n slip=0.25 \r\ngoal_reward =-1/4\t\nhole_reward= -1e-1\nstep_reward = -.05\nmax_steps = 7\r\n\n\n.S  \r\n.G\n\n\n",
			want: Map{Rows: 2, Cols: 2, Tiles: []Tile{Floor, Start, Floor, Goal}, StartCol: 1, Slip: 0.25, GoalReward: -0.25, HoleReward: -0.1, StepReward: -0.05, MaxSteps: 7},
			tol:  1e-15,
		},
		{
			name: "wind with commas and noise",
			text: "wind = 0, 1 -2\nwind_noise = 1\nS.G\n",
			want: Map{Rows: 1, Cols: 3, Tiles: []Tile{Start, Floor, Goal}, GoalReward: 1, MaxSteps: 100, Wind: []int{0, 1, -2}, WindNoise: 1},
		},
		{
			name: "budget",
			text: "budget = 30000\nS.G\n",
			want: Map{Rows: 1, Cols: 3, Tiles: []Tile{Start, Floor, Goal}, GoalReward: 1, MaxSteps: 100, Budget: 30000},
		},
		{
			name: "no trailing newline and start last",
			text: "G.\n.S",
			want: Map{Rows: 2, Cols: 2, Tiles: []Tile{Goal, Floor, Floor, Start}, StartRow: 1, StartCol: 1, GoalReward: 1, MaxSteps: 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMap(strings.NewReader(tc.text), "test.map")
			if err != nil {
				t.Fatalf("ParseMap: %v", err)
			}
			got := *m
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"slip", got.Slip, tc.want.Slip},
				{"goal_reward", got.GoalReward, tc.want.GoalReward},
				{"hole_reward", got.HoleReward, tc.want.HoleReward},
				{"step_reward", got.StepReward, tc.want.StepReward},
			} {
				if math.Abs(f.got-f.want) > tc.tol {
					t.Errorf("%s = %v, want %v ± %g", f.name, f.got, f.want, tc.tol)
				}
			}
			got.Slip, got.GoalReward, got.HoleReward, got.StepReward = tc.want.Slip, tc.want.GoalReward, tc.want.HoleReward, tc.want.StepReward
			tc.want.Name = "test.map"
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseMap =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// tiles turns rows written in the map format into Tiles.
func tiles(rows ...string) []Tile {
	var out []Tile
	for _, r := range rows {
		for _, c := range []byte(r) {
			out = append(out, Tile(c))
		}
	}
	return out
}

func TestParseMapInvalid(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		want []string // substrings of the message: what is wrong and what is allowed
	}{
		{"empty file", "", 1, []string{"empty grid", "S start"}},
		{"header only", "slip = 0.1\n\n", 2, []string{"empty grid"}},
		{"no start", "slip = 0\n..G\n...\n", 2, []string{"no start tile S", "exactly one"}},
		{"two starts", "S.G\n..S\n", 2, []string{"second start tile S in column 3", "first is on line 1"}},
		{"no goal", "S..\n", 1, []string{"no goal tile G", "at least one"}},
		{"ragged", "S..\n..\n..G\n", 2, []string{"row has 2 tiles", "first row (line 1) has 3"}},
		{"unknown tile", "S.G\n.x.\n", 2, []string{"unknown tile 'x' in column 2", "# wall"}},
		{"leading space", "S.G\n ..\n", 2, []string{"unknown tile ' ' in column 1"}},
		{"unknown key", "slipp = 0.1\nS.G\n", 1, []string{`unknown header key "slipp"`, "slip_tiles"}},
		{"repeated key", "slip = 0.1\nslip = 0.2\nS.G\n", 2, []string{`"slip" repeats line 1`}},
		{"slip above 1", "\nslip = 1.5\nS.G\n", 2, []string{`"1.5" for slip`, "from 0 to 1"}},
		{"slip negative", "slip = -0.1\nS.G\n", 1, []string{`"-0.1" for slip`}},
		{"slip text", "slip = lots\nS.G\n", 1, []string{`"lots" for slip`, "2/3"}},
		{"slip zero denominator", "slip = 1/0\nS.G\n", 1, []string{`"1/0" for slip`}},
		{"slip NaN", "slip = NaN\nS.G\n", 1, []string{`"NaN" for slip`}},
		{"reward infinite", "goal_reward = Inf\nS.G\n", 1, []string{`"Inf" for goal_reward`, "finite number"}},
		{"slip_tiles", "slip_tiles = some\nS.G\n", 1, []string{`"some" for slip_tiles`, "ice, all"}},
		{"max_steps zero", "max_steps = 0\nS.G\n", 1, []string{`"0" for max_steps`, "integer from 1"}},
		{"max_steps decimal", "max_steps = 2.5\nS.G\n", 1, []string{`"2.5" for max_steps`}},
		{"wind count", "wind = 0 1\nS.G\n", 1, []string{"wind has 2 values but the grid has 3 columns"}},
		{"wind empty", "wind =\nS.G\n", 1, []string{"empty value for wind"}},
		{"wind noise negative", "wind_noise = -1\nS.G\n", 1, []string{`"-1" for wind_noise`}},
		{"budget zero", "budget = 0\nS.G\n", 1, []string{`"0" for budget`, "integer from 1"}},
		{"budget decimal", "budget = 1e4\nS.G\n", 1, []string{`"1e4" for budget`}},
		{"header after grid", "S.G\nslip = 0.1\n", 2, []string{"after the grid began at line 1"}},
		{"blank line inside grid", "S.G\n\n...\n", 3, []string{"after the blank line 2", "contiguous"}},
		{"too wide", "S" + strings.Repeat(".", MaxSide) + "G\n", 1, []string{"more than 256 tiles"}},
		{"too tall", "S\n" + strings.Repeat(".\n", MaxSide-2) + "G\n.\n", MaxSide + 1, []string{"more than 256 rows"}},
		{"line too long", strings.Repeat(".", maxLine+10) + "\n", 1, []string{"line longer than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMap(strings.NewReader(tc.text), "bad.map")
			if err == nil {
				t.Fatalf("ParseMap succeeded: %+v", m)
			}
			if !errors.Is(err, ErrMap) {
				t.Errorf("error %q does not wrap ErrMap", err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("message spans lines: %q", msg)
			}
			if prefix := "bad.map line " + strconv.Itoa(tc.line) + ": "; !strings.Contains(msg, prefix) {
				t.Errorf("message %q does not name %q", msg, prefix)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestLoadMapMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.map")
	_, err := LoadMap(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadMap(missing) = %v, want a not-exist error naming %s", err, path)
	}
}

func TestMapStringRoundTrip(t *testing.T) {
	for _, name := range []string{"frozenlake-4x4", "frozenlake-8x8", "windy", "cliff-ice"} {
		t.Run(name, func(t *testing.T) {
			m := builtin(name)
			back, err := ParseMap(strings.NewReader(m.String()), m.Name)
			if err != nil {
				t.Fatalf("ParseMap(String()): %v", err)
			}
			if !reflect.DeepEqual(back, m) {
				t.Errorf("round trip changed the map:\n%s\nvs\n%s", back, m)
			}
		})
	}
}

// The example maps in testdata/maps parse; the copies of the built-ins
// equal the embedded files, and every map's goal is reachable.
func TestTestdataMaps(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(testdataMaps, "*.map"))
	if err != nil || len(paths) < 6 {
		t.Fatalf("testdata maps: %v (%d files)", err, len(paths))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".map")
		t.Run(name, func(t *testing.T) {
			m, err := LoadMap(path)
			if err != nil {
				t.Fatal(err)
			}
			if embedded, err := builtinMaps.ReadFile("maps/" + name + ".map"); err == nil {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if string(data) != string(embedded) {
					t.Errorf("%s differs from the built-in maps/%s.map", path, name)
				}
			}
			if p := OptimalSuccess(New(m), m.MaxSteps); !(p > 0) {
				t.Errorf("goal unreachable: optimal success %g", p)
			}
		})
	}
}

// bigMap writes a rows×cols map: S top-left, G bottom-right, and a pattern
// of walls, ice and holes that leaves the border free.
func bigMap(rows, cols int) string {
	var b strings.Builder
	b.WriteString("slip = 0.2\nmax_steps = 1000\n\n")
	for r := range rows {
		for c := range cols {
			t := byte('.')
			switch {
			case r == 0 && c == 0:
				t = 'S'
			case r == rows-1 && c == cols-1:
				t = 'G'
			case r == 0 || c == 0 || r == rows-1 || c == cols-1:
			case (r*7+c*3)%11 == 0:
				t = '#'
			case (r+c)%5 == 0:
				t = 'I'
			case (r*c)%29 == 1:
				t = 'H'
			}
			b.WriteByte(t)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestBigMap(t *testing.T) {
	m, err := ParseMap(strings.NewReader(bigMap(64, 64)), "big.map")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 64 || m.Cols != 64 || m.At(63, 63) != Goal {
		t.Fatalf("parsed %d×%d, corner %q", m.Rows, m.Cols, m.At(63, 63))
	}
	e := New(m)
	e.Reset(3)
	// Walk right along the top row, then down the right column: 126 moves,
	// all on floor with no slip, so the walk is exact.
	for i := range 126 {
		a := Right
		if i >= 63 {
			a = Down
		}
		r, term, trunc := e.Step([]float64{float64(a)})
		if trunc || term != (i == 125) {
			t.Fatalf("step %d: terminated %v truncated %v", i, term, trunc)
		}
		if term && r != 1 {
			t.Errorf("goal reward %g, want 1", r)
		}
	}
	if s := e.State(); s[0] != 63 || s[1] != 63 {
		t.Errorf("state %v, want [63 63]", s)
	}
	if _, err := ParseMap(strings.NewReader(bigMap(MaxSide, MaxSide)), "max.map"); err != nil {
		t.Errorf("%d×%d map: %v", MaxSide, MaxSide, err)
	}
}

func TestValidate(t *testing.T) {
	good := func() *Map { return builtin("cliff-ice") }
	tests := []struct {
		name   string
		mutate func(m *Map)
		want   string
	}{
		{"tile count", func(m *Map) { m.Tiles = m.Tiles[1:] }, "tiles for a 6×9 grid"},
		{"unknown tile", func(m *Map) { m.Tiles[3] = 'x' }, "unknown tile"},
		{"start moved", func(m *Map) { m.StartRow = 0 }, "is not the S tile"},
		{"two starts", func(m *Map) { m.Tiles[0] = Start }, "2 start tiles"},
		{"slip", func(m *Map) { m.Slip = math.NaN() }, "slip NaN"},
		{"reward", func(m *Map) { m.StepReward = math.Inf(-1) }, "step_reward -Inf"},
		{"max steps", func(m *Map) { m.MaxSteps = 0 }, "max_steps 0"},
		{"wind length", func(m *Map) { m.Wind = []int{1} }, "wind has 1 values"},
		{"size", func(m *Map) { m.Rows = 0 }, "grid is 0×9"},
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("built-in map invalid: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.mutate(m)
			err := m.Validate()
			if !errors.Is(err, ErrMap) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want ErrMap with %q", err, tc.want)
			}
		})
	}
}
