package viewer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/picture"
)

var update = flag.Bool("update", false, "rewrite the golden pictures in testdata/golden")

// goldenDir holds the repository's golden pictures.
const goldenDir = "../../../../testdata/golden"

// trainRun trains a tiny debug-preset run in a new directory.
func trainRun(t *testing.T, env, dynamics string, steps int) string {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps, cfg.Model.Dynamics = env, steps, dynamics
	cfg.SeedSteps = steps / 2
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = steps, 1, steps
	dir := filepath.Join(t.TempDir(), strings.ReplaceAll(env, "/", "-")+"-"+dynamics)
	run, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // error text; empty for success
		cfg  Config
	}{
		{"defaults", []string{"--run-dir", "r"}, "", Config{RunDir: "r", Seed: 1_000_000, Cell: 64, Speed: 2, SaveDir: "."}},
		{"all", []string{"--run-dir", "r", "--compare", "c", "--seed", "3", "--samples", "5", "--horizon", "7", "--cell", "32", "--speed", "10", "--screenshot", "s.png", "--frames", "9", "--save-dir", "d"}, "",
			Config{RunDir: "r", Compare: "c", Seed: 3, Samples: 5, Horizon: 7, Cell: 32, Speed: 10, Screenshot: "s.png", Frames: 9, SaveDir: "d"}},
		{"no run dir", nil, "--run-dir is required", Config{}},
		{"argument", []string{"--run-dir", "r", "extra"}, `unexpected argument "extra"`, Config{}},
		{"samples", []string{"--run-dir", "r", "--samples", "17"}, "--samples 17 is not valid (allowed: 1 to 16", Config{}},
		{"horizon", []string{"--run-dir", "r", "--horizon", "33"}, "--horizon 33 is not valid (allowed: 1 to 32", Config{}},
		{"cell", []string{"--run-dir", "r", "--cell", "8"}, "--cell 8 is not valid (allowed: 16 to 256)", Config{}},
		{"speed", []string{"--run-dir", "r", "--speed", "0"}, "--speed 0 is not valid", Config{}},
		{"frames without screenshot", []string{"--run-dir", "r", "--frames", "3"}, "--frames needs --screenshot FILE", Config{}},
		{"screenshot without frames", []string{"--run-dir", "r", "--screenshot", "x.png"}, "--frames 0 is not valid with --screenshot", Config{}},
		{"unknown flag", []string{"--run-dir", "r", "--bogus"}, "flag provided but not defined: -bogus", Config{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := ParseArgs(c.args, &stderr)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg != c.cfg {
					t.Errorf("config %+v, want %+v", cfg, c.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	var stderr bytes.Buffer
	if _, err := ParseArgs([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), Help) {
		t.Errorf("-h: err %v, usage %q", err, stderr.String())
	}
}

func TestSetupErrors(t *testing.T) {
	grid := trainRun(t, "gridworld/frozenlake-4x4", "gaussian", 100)
	pend := trainRun(t, "physics/pendulum", "gaussian", 40)
	fresh := filepath.Join(t.TempDir(), "fresh")
	cfg, _ := agent.Preset("debug")
	if _, err := agent.New(cfg, fresh); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing", Config{RunDir: missing}, "--run-dir: run directory " + missing + ": no such directory"},
		{"no checkpoint", Config{RunDir: fresh}, "--run-dir: no checkpoint in " + fresh},
		{"missing compare", Config{RunDir: grid, Compare: missing}, "--compare: run directory " + missing},
		{"other env", Config{RunDir: grid, Compare: pend}, "cannot be compared on the same episodes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Cell, c.cfg.Speed = 32, 2
			_, err := Setup(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, c.want)
			}
		})
	}
}

// TestViewer drives the state machine with keys and ticks and checks what
// the window shows.
func TestViewer(t *testing.T) {
	gauss := trainRun(t, "gridworld/frozenlake-4x4", "gaussian", 200)
	det := trainRun(t, "gridworld/frozenlake-4x4", "deterministic", 200)
	save := t.TempDir()
	v, err := Setup(Config{RunDir: gauss, Compare: det, Seed: 9, Samples: 3, Cell: 24, Speed: 6, SaveDir: save})
	if err != nil {
		t.Fatal(err)
	}
	step := func() int { return v.scenes[0].Step }
	if step() != 0 || v.Paused() || len(v.scenes) != 2 {
		t.Fatalf("start: step %d, paused %v, %d panes", step(), v.Paused(), len(v.scenes))
	}
	// Both panes show the planner's return distribution of each of the
	// four first actions, the one taken marked.
	for i, sc := range v.scenes {
		chosen := 0
		for _, d := range sc.Returns {
			if d.Chosen {
				chosen++
			}
		}
		if len(sc.Returns) != 4 || chosen != 1 || sc.RiskName != "mean" {
			t.Fatalf("pane %d: %d return distributions (%d chosen) of risk %q, want 4 (1) of mean", i, len(sc.Returns), chosen, sc.RiskName)
		}
	}
	start := v.Picture()
	if v.Picture() != start {
		t.Fatal("Picture drew again without a change")
	}

	// Running at 6 steps/s: a step every 10 ticks.
	for i := 1; i < 10; i++ {
		v.Tick()
	}
	if step() != 0 || v.Picture() != start {
		t.Fatalf("stepped before 10 ticks (step %d)", step())
	}
	v.Tick()
	if step() != 1 || v.Picture() == start {
		t.Fatalf("after 10 ticks: step %d", step())
	}
	// Paused, ticks do nothing; → pauses and steps; space resumes.
	v.Press(KeyPause)
	for range 50 {
		v.Tick()
	}
	if step() != 1 || !v.Paused() || !strings.HasPrefix(v.Status(), "paused") {
		t.Fatalf("paused: step %d, status %q", step(), v.Status())
	}
	v.Press(KeyStep)
	if step() != 2 || !v.Paused() {
		t.Fatalf("→: step %d, paused %v", step(), v.Paused())
	}
	v.Press(KeyPause)
	if v.Paused() {
		t.Fatal("space did not resume")
	}
	v.Press(KeyPause)

	// + and − change K of the Gaussian pane; the deterministic one keeps 1.
	v.Press(KeyMoreSamples)
	if k0, k1 := v.panes[0].Imaginer.Samples(), v.panes[1].Imaginer.Samples(); k0 != 4 || k1 != 1 || len(v.scenes[0].Futures) != 4 {
		t.Fatalf("+: K %d and %d, %d futures shown", k0, k1, len(v.scenes[0].Futures))
	}
	if !strings.Contains(v.Status(), "samples K = 4") {
		t.Errorf("status %q", v.Status())
	}
	for range 10 {
		v.Press(KeyFewerSamples)
	}
	if k := v.panes[0].Imaginer.Samples(); k != 1 {
		t.Fatalf("−×10: K %d, want 1", k)
	}
	// [ and ] change the horizon of both panes.
	h := v.panes[0].Imaginer.Horizon()
	v.Press(KeyLongerHorizon)
	if v.panes[0].Imaginer.Horizon() != h+1 || v.panes[1].Imaginer.Horizon() != h+1 {
		t.Fatalf("]: horizons %d and %d, want %d", v.panes[0].Imaginer.Horizon(), v.panes[1].Imaginer.Horizon(), h+1)
	}
	v.Press(KeyShorterHorizon)
	v.Press(KeyShorterHorizon)
	if v.panes[0].Imaginer.Horizon() != h-1 {
		t.Fatalf("[[: horizon %d, want %d", v.panes[0].Imaginer.Horizon(), h-1)
	}
	v.Press(KeyLongerHorizon)

	// r restarts the current episodes from their seeds: the same
	// pictures come again.
	v.Press(KeyMoreSamples)
	v.Press(KeyMoreSamples)
	ep := v.panes[0].Imaginer.Episode()
	v.Press(KeyReset)
	first := v.Picture()
	if step() != 0 || !v.Paused() || v.panes[0].Imaginer.Episode() != ep {
		t.Fatalf("reset: step %d, paused %v, episode %d (was %d)", step(), v.Paused(), v.panes[0].Imaginer.Episode(), ep)
	}
	v.Press(KeyStep)
	second := v.Picture()
	v.Press(KeyReset)
	if !bytes.Equal(v.Picture().Pix, first.Pix) {
		t.Fatal("a second reset shows another first picture")
	}
	v.Press(KeyStep)
	if !bytes.Equal(v.Picture().Pix, second.Pix) {
		t.Fatal("a second reset plays another second step")
	}

	// s saves the window's picture as it was when s was pressed.
	want := v.Picture()
	v.Press(KeySave)
	path := filepath.Join(save, "viz-001.png")
	if !strings.Contains(v.Status(), "saved "+path) {
		t.Fatalf("status %q", v.Status())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != want.Bounds() {
		t.Fatalf("saved %v, window %v", img.Bounds(), want.Bounds())
	}
	for y := 0; y < want.Rect.Dy(); y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			if color.RGBAModel.Convert(img.At(x, y)) != want.RGBAAt(x, y) {
				t.Fatalf("saved pixel (%d, %d) differs from the window", x, y)
			}
		}
	}
	v.Press(KeySave)
	if _, err := os.Stat(filepath.Join(save, "viz-002.png")); err != nil {
		t.Error("a second save did not take the next name")
	}

	v.Press(KeyNone)
	if v.Quit() {
		t.Fatal("quit before q")
	}
	v.Press(KeyQuit)
	if !v.Quit() {
		t.Fatal("q did not quit")
	}
}

// TestComposeGolden compares the window's composition of two fixed
// synthetic panes with testdata/golden/viz-compare.png; -update rewrites
// it.
func TestComposeGolden(t *testing.T) {
	frame := func(x int, c color.RGBA) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := range img.Pix {
			img.Pix[i] = 230
		}
		for y := 6; y < 10; y++ {
			for dx := 0; dx < 4; dx++ {
				img.SetRGBA(x+dx, y, c)
			}
		}
		return img
	}
	red, blue := color.RGBA{220, 40, 40, 255}, color.RGBA{40, 60, 220, 255}
	a := picture.Scene{
		Env: "gridworld/frozenlake-4x4", Dynamics: "gaussian", Step: 3, Current: frame(0, red),
		Real: []*image.RGBA{frame(4, red), frame(8, red)}, Actions: []string{"→", "→", "↓"},
		Futures:    [][]*image.RGBA{{frame(4, red), frame(8, red), frame(12, red)}, {frame(4, red), frame(4, red), frame(8, red)}},
		Sigma:      [][]float64{{0.1, 0.3, 0.6}, {0.1, 0.2, 0.5}},
		PredReturn: 0.25, RealKnown: true,
	}
	b := picture.Scene{
		Env: "gridworld/frozenlake-4x4", Dynamics: "deterministic", Step: 3, Current: frame(0, blue),
		Real: []*image.RGBA{frame(4, blue)}, RealEnded: true, Actions: []string{"→", "↑", "↑"},
		Futures:    [][]*image.RGBA{{frame(4, blue), frame(8, blue), frame(8, blue)}},
		Sigma:      [][]float64{{0, 0, 0}},
		PredReturn: 0.5, RealReturn: 1, RealKnown: true,
	}
	got := Compose([]PaneView{{a, "gaussian-run · K=2 · H=3 · episode 0"}, {b, "deterministic-run · K=1 · H=3 · episode 0"}}, 32, "paused · saved viz-001.png")
	path := filepath.Join(goldenDir, "viz-compare.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, got); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != got.Bounds() {
		t.Fatalf("size %v, golden %v", got.Bounds(), want.Bounds())
	}
	for y := 0; y < got.Rect.Dy(); y++ {
		for x := 0; x < got.Rect.Dx(); x++ {
			if color.RGBAModel.Convert(want.At(x, y)) != got.RGBAAt(x, y) {
				t.Fatalf("pixel (%d, %d) differs from the golden picture", x, y)
			}
		}
	}
}
