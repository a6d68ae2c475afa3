package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

// trainForPlot trains a debug-preset run of 400 steps (two evaluations,
// losses from step 300) in dir with the given seed.
func trainForPlot(t *testing.T, dir, seed string) {
	t.Helper()
	if out, err := run(t, "train", "--preset", "debug", "--steps", "400", "--seed", seed, "--run-dir", dir); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
}

// pngSize decodes the PNG at path and returns its size.
func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestPlot(t *testing.T) {
	tmp := t.TempDir()
	// Two runs that share a base name: the legend tells them apart by seed.
	a, b := filepath.Join(tmp, "s0", "run"), filepath.Join(tmp, "s1", "run")
	trainForPlot(t, a, "0")
	trainForPlot(t, b, "1")
	out := filepath.Join(tmp, "runs.png")

	tests := []struct {
		name          string
		args          []string
		width, height int
		mention       []string
	}{
		{"default size", nil, 1200, 800, []string{"run (gaussian, seed 0), run (gaussian, seed 1)"}},
		{"redraw at another size", []string{"--width", "640", "--height", "480"}, 640, 480, []string{"640×480"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"plot", "--run-dir", a, "--run-dir", b, "--out", out}, tt.args...)
			msg, err := run(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range append(tt.mention, "wrote "+out) {
				if !strings.Contains(msg, m) {
					t.Errorf("output %q does not mention %q", msg, m)
				}
			}
			if w, h := pngSize(t, out); w != tt.width || h != tt.height {
				t.Errorf("picture of %d×%d pixels, want %d×%d", w, h, tt.width, tt.height)
			}
		})
	}

	t.Run("run without evaluations", func(t *testing.T) {
		// A copy of run a whose metrics.csv has lost its evaluation rows:
		// its losses are drawn and the output says so.
		dir := filepath.Join(tmp, "no-eval")
		os.MkdirAll(dir, 0o755)
		cfg, _ := os.ReadFile(filepath.Join(a, agent.ConfigFile))
		os.WriteFile(filepath.Join(dir, agent.ConfigFile), cfg, 0o644)
		metrics, _ := os.ReadFile(filepath.Join(a, agent.MetricsFile))
		var kept []string
		for _, line := range strings.SplitAfter(string(metrics), "\n") {
			if !strings.HasPrefix(line, "eval,") {
				kept = append(kept, line)
			}
		}
		os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(strings.Join(kept, "")), 0o644)
		out := filepath.Join(tmp, "no-eval.png")
		msg, err := run(t, "plot", "--run-dir", dir, "--run-dir", b, "--out", out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, dir+": no evaluation yet: drawing its losses only") {
			t.Errorf("output %q does not say that %s has no evaluation", msg, dir)
		}
		if w, h := pngSize(t, out); w != 1200 || h != 800 {
			t.Errorf("picture of %d×%d pixels", w, h)
		}
	})
}

func TestPlotErrors(t *testing.T) {
	tmp := t.TempDir()
	trained := filepath.Join(tmp, "trained")
	trainForPlot(t, trained, "0")
	// A run of another environment, created but not trained.
	cartpole := filepath.Join(tmp, "cartpole")
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = "physics/cartpole"
	if _, err := agent.New(cfg, cartpole); err != nil {
		t.Fatal(err)
	}
	// A run directory without its metrics.csv, and one that is not a run.
	noMetrics := filepath.Join(tmp, "no-metrics")
	os.MkdirAll(noMetrics, 0o755)
	data, _ := os.ReadFile(filepath.Join(trained, agent.ConfigFile))
	os.WriteFile(filepath.Join(noMetrics, agent.ConfigFile), data, 0o644)
	notRun := filepath.Join(tmp, "not-a-run")
	os.MkdirAll(notRun, 0o755)
	// An existing file that is not a PNG must survive a refused plot.
	notPNG := filepath.Join(tmp, "notes.png")
	os.WriteFile(notPNG, []byte("my notes"), 0o644)
	pngDir := filepath.Join(tmp, "dir.png")
	os.MkdirAll(pngDir, 0o755)
	out := filepath.Join(tmp, "out.png")

	tests := []struct {
		name    string
		args    []string
		mention []string
	}{
		{"different environments", []string{"--run-dir", trained, "--run-dir", cartpole, "--out", out},
			[]string{trained + " is gridworld/frozenlake-4x4", cartpole + " is physics/cartpole", "allowed: runs of one environment"}},
		{"no metrics", []string{"--run-dir", noMetrics, "--out", out}, []string{noMetrics, "no metrics.csv"}},
		{"not a run directory", []string{"--run-dir", notRun, "--out", out}, []string{notRun, "no config.json", "allowed: the directory of a run"}},
		{"nothing logged", []string{"--run-dir", cartpole, "--out", out}, []string{cartpole, "no evaluation and no loss logged yet"}},
		{"run twice", []string{"--run-dir", trained, "--run-dir", trained + "/", "--out", out}, []string{"same directory", "allowed: each run once"}},
		{"out not png", []string{"--run-dir", trained, "--out", filepath.Join(tmp, "out.jpg")}, []string{"out.jpg", "allowed: a file name ending in .png"}},
		{"out in missing directory", []string{"--run-dir", trained, "--out", filepath.Join(tmp, "nope", "out.png")}, []string{"does not exist"}},
		{"out is not a PNG", []string{"--run-dir", trained, "--out", notPNG}, []string{notPNG, "is not a PNG, so it is kept"}},
		{"out is a directory", []string{"--run-dir", trained, "--out", pngDir}, []string{pngDir, "not a regular file"}},
		{"positional argument", []string{"--run-dir", trained, "--out", out, trained}, []string{"unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, append([]string{"plot"}, tt.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused plot wrote %s", out)
	}
	if data, _ := os.ReadFile(notPNG); string(data) != "my notes" {
		t.Errorf("a refused plot changed %s: %q", notPNG, data)
	}

	t.Run("unwritable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes in a read-only directory")
		}
		ro := filepath.Join(tmp, "read-only")
		os.MkdirAll(ro, 0o555)
		_, err := run(t, "plot", "--run-dir", trained, "--out", filepath.Join(ro, "out.png"))
		if err == nil || !strings.Contains(err.Error(), "cannot write it") {
			t.Errorf("error %v, want one saying --out cannot be written", err)
		}
	})
}
