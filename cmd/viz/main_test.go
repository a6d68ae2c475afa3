package main

// These tests open windows: run them under a display, for example
// xvfb-run -a go test ./cmd/viz/ (make viz).

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/cmd/viz/internal/viewer"
)

// runMainEnv, when set to 1, makes the test binary run the viewer's main
// on the main thread instead of the tests, so that a test can start the
// viewer as a program (ebiten runs only on the main thread).
const runMainEnv = "DREAM_VIZ_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// viz runs the viewer program with args and returns its stderr.
func viz(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

// trainRun trains a tiny debug-preset run in a new directory.
func trainRun(t *testing.T, dynamics string, steps int) string {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps, cfg.Model.Dynamics = "gridworld/frozenlake-4x4", steps, dynamics
	cfg.SeedSteps = steps / 2
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.CheckpointEvery = steps, 1, steps
	dir := filepath.Join(t.TempDir(), dynamics)
	run, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestScreenshot runs the viewer in a window for a number of frames and
// checks that the screen it read back is the picture the engine-free
// viewer composes for the same state.
func TestScreenshot(t *testing.T) {
	gauss := trainRun(t, "gaussian", 200)
	det := trainRun(t, "deterministic", 200)
	shot := filepath.Join(t.TempDir(), "shot.png")
	// 45 frames at 4 steps/s (a step every 15 frames) end on step 3.
	args := []string{"--run-dir", gauss, "--compare", det, "--seed", "4", "--samples", "3", "--horizon", "4",
		"--cell", "32", "--speed", "4", "--screenshot", shot, "--frames", "45"}
	if stderr, err := viz(t, args...); err != nil {
		t.Fatalf("viz: %v\n%s", err, stderr)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := viewer.ParseArgs(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	v, err := viewer.Setup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range cfg.Frames {
		v.Tick()
	}
	want := v.Picture()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("screenshot %v, composed picture %v", got.Bounds(), want.Bounds())
	}
	diff := 0
	for y := 0; y < want.Rect.Dy(); y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			if color.RGBAModel.Convert(got.At(x, y)) != want.RGBAAt(x, y) {
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d pixels of the screenshot differ from the composed picture", diff, want.Rect.Dx()*want.Rect.Dy())
	}
}

// TestErrorsBeforeWindow checks that bad command lines fail with one line
// naming the flag, without opening a window.
func TestErrorsBeforeWindow(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing run dir", []string{"--run-dir", missing}, "viz: --run-dir: run directory " + missing + ": no such directory"},
		{"no run dir", nil, "viz: --run-dir is required"},
		{"bad samples", []string{"--run-dir", missing, "--samples", "99"}, "viz: --samples 99 is not valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stderr, err := viz(t, c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit %v, want status 1", err)
			}
			if got := strings.TrimSpace(stderr); !strings.HasPrefix(got, c.want) || strings.Contains(got, "\n") {
				t.Errorf("stderr %q, want one line starting %q", stderr, c.want)
			}
		})
	}
}
