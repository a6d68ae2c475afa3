package main

import (
	"bytes"
	"context"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/picture"
)

// trainForImagine trains a debug-preset run for a few hundred steps in a new
// directory and returns it.
func trainForImagine(t *testing.T, env string, steps int) string {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps = env, steps
	cfg.SeedSteps = steps / 2
	cfg.EvalEvery, cfg.EvalEpisodes = steps, 1
	cfg.CheckpointEvery = steps
	dir := filepath.Join(t.TempDir(), "run")
	run, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// executeImagine runs the dream command line and returns its output.
func executeImagine(args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestImagine(t *testing.T) {
	dir := trainForImagine(t, "gridworld/frozenlake-4x4", 200)
	tmp := t.TempDir()

	t.Run("gif", func(t *testing.T) {
		out := filepath.Join(tmp, "imagine.gif")
		const steps = 7
		msg, err := executeImagine("imagine", "--run-dir", dir, "--steps", "7", "--samples", "3", "--horizon", "4", "--cell", "24", "--gif", out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, "wrote 7 pictures (K = 3, H = 4") {
			t.Errorf("output %q", msg)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		g, err := gif.DecodeAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Image) != steps {
			t.Fatalf("GIF has %d frames, want %d", len(g.Image), steps)
		}
		for i, d := range g.Delay {
			if d != imagineDelay {
				t.Errorf("frame %d delay %d", i, d)
			}
		}
	})

	t.Run("png", func(t *testing.T) {
		out := filepath.Join(tmp, "first.png")
		if _, err := executeImagine("imagine", "--run-dir", dir, "--seed", "5", "--cell", "32", "--png", out); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		// The same picture composed in the library, from the same seed.
		run, err := agent.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := agent.NewImaginer(run, 5)
		if err != nil {
			t.Fatal(err)
		}
		want := picture.Compose(im.Step(), 32)
		if got.Bounds() != want.Bounds() {
			t.Fatalf("PNG %v, composed %v", got.Bounds(), want.Bounds())
		}
		for y := 0; y < want.Rect.Dy(); y++ {
			for x := 0; x < want.Rect.Dx(); x++ {
				if color.RGBAModel.Convert(got.At(x, y)) != want.RGBAAt(x, y) {
					t.Fatalf("pixel (%d, %d) differs from the composed picture", x, y)
				}
			}
		}
	})

	empty := t.TempDir()
	cfg, _ := agent.Preset("debug")
	fresh := filepath.Join(tmp, "fresh")
	if _, err := agent.New(cfg, fresh); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	gifOut := filepath.Join(tmp, "x.gif")
	errCases := []struct {
		name string
		args []string
		want string
	}{
		{"no run dir", []string{"--gif", gifOut}, "--run-dir is required"},
		{"missing run dir", []string{"--run-dir", filepath.Join(tmp, "nope"), "--gif", gifOut}, "--run-dir: run directory " + filepath.Join(tmp, "nope") + ": no such directory"},
		{"a file", []string{"--run-dir", file, "--gif", gifOut}, "not a directory"},
		{"no checkpoint", []string{"--run-dir", fresh, "--gif", gifOut}, "--run-dir: no checkpoint in " + fresh + ": train it first"},
		{"empty dir", []string{"--run-dir", empty, "--gif", gifOut}, "no checkpoint"},
		{"no output", []string{"--run-dir", dir}, "one of --gif FILE and --png FILE is required"},
		{"both outputs", []string{"--run-dir", dir, "--gif", gifOut, "--png", "x.png"}, "--gif and --png cannot be used together"},
		{"steps", []string{"--run-dir", dir, "--gif", gifOut, "--steps", "0"}, "--steps 0 is not valid (allowed: 1 to 10000)"},
		{"samples", []string{"--run-dir", dir, "--gif", gifOut, "--samples", "17"}, "--samples 17 is not valid (allowed: 1 to 16"},
		{"horizon", []string{"--run-dir", dir, "--gif", gifOut, "--horizon", "-1"}, "--horizon -1 is not valid (allowed: 1 to 32"},
		{"cell", []string{"--run-dir", dir, "--gif", gifOut, "--cell", "4"}, "--cell 4 is not valid (allowed: 16 to 256)"},
		{"unwritable", []string{"--run-dir", dir, "--gif", filepath.Join(tmp, "no", "dir", "x.gif"), "--steps", "1"}, "--gif " + filepath.Join(tmp, "no", "dir", "x.gif")},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := executeImagine(append([]string{"imagine"}, c.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := oneLine(err); !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if _, err := os.Stat(gifOut); err == nil {
		t.Error("a failed command wrote its GIF")
	}
}
