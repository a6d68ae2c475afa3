package gridworld

import (
	"bytes"
	"errors"
	"image"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMap checks that no input makes ParseMap panic, that every
// failure is a one-line ErrMap naming the file, and that every success is
// a consistent map (exactly one start, rectangular) that round-trips
// through String and can be stepped and rendered.
func FuzzParseMap(f *testing.F) {
	err := fs.WalkDir(builtinMaps, "maps", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := builtinMaps.ReadFile(path)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "\n\n", "S", "SG", "S.G\n..S\n", "S..\n..\n..G\n", "slip = 2/3\nS.G", "slip = 1/0\nS.G",
		"wind = 1 2 3\nwind_noise = 2\nS.G", "wind = 1\nS.G", "max_steps = 0\nSG", "SG\n\nSG",
		"S.G\nslip = 1", "goal_reward = -1e308\nSG", "slip = 0x1p-2\nSIG", "S\xffG", "=\nSG", " = \nSG",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMap(bytes.NewReader(data), "fuzz.map")
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, ErrMap) || strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, "fuzz.map line ") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if m.Rows < 1 || m.Cols < 1 || m.Rows > MaxSide || m.Cols > MaxSide || len(m.Tiles) != m.Rows*m.Cols {
			t.Fatalf("inconsistent size %d×%d with %d tiles", m.Rows, m.Cols, len(m.Tiles))
		}
		starts := 0
		for _, tile := range m.Tiles {
			if tile == Start {
				starts++
			}
		}
		if starts != 1 || m.At(m.StartRow, m.StartCol) != Start {
			t.Fatalf("%d starts, start (%d, %d)", starts, m.StartRow, m.StartCol)
		}
		// Rectangular: the input's grid lines (neither blank nor a header)
		// number Rows and all hold Cols tiles.
		rows := 0
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimRight(line, " \t\r\v\f")
			if line == "" || strings.Contains(line, "=") {
				continue
			}
			rows++
			if n := utf8.RuneCountInString(line); n != m.Cols {
				t.Fatalf("grid line %q has %d tiles, map has %d columns", line, n, m.Cols)
			}
		}
		if rows != m.Rows {
			t.Fatalf("input has %d grid lines, map has %d rows", rows, m.Rows)
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		back, err := ParseMap(strings.NewReader(m.String()), "fuzz.map")
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip: %v\n%s", err, m)
		}
		e := New(m)
		e.Reset(1)
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for a := range 8 {
			e.Step([]float64{float64(a % 4)})
			e.Render(img)
		}
	})
}
