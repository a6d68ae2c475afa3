package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden config and docs/configuration.md")

// checkGolden compares got with the file at path, or rewrites the file
// with -update.
func checkGolden(t *testing.T, path, got, how string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with: go test ./cmd/dream -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s; if the change is meant, regenerate it with: %s\n%s", path, how, how, firstDiff(string(want), got))
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  file: " + wl + "\n  code: " + gl
		}
	}
	return ""
}

// TestConfigGolden pins `dream config` for the default environment.
func TestConfigGolden(t *testing.T) {
	out, err := run(t, "config", "--env", "gridworld/frozenlake-4x4")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("..", "..", "testdata", "golden", "config-frozenlake-4x4.yaml"), out,
		"go test ./cmd/dream -run TestConfigGolden -update")
}

// TestConfigRoundTrip feeds `dream config`'s output back through --config:
// it must resolve to the same configuration, for several environments,
// observations, dynamics and presets.
func TestConfigRoundTrip(t *testing.T) {
	tests := [][]string{
		{},
		{"--env", "gridworld/frozenlake-8x8", "--obs", "state"},
		{"--env", "physics/cartpole", "--dynamics", "mixture", "--seed", "7"},
		{"--env", "physics/pendulum", "--risk", "cvar:0.1", "--horizon", "3"},
		{"--preset", "debug", "--env", "gridworld/windy", "--dynamics", "deterministic"},
	}
	for _, args := range tests {
		t.Run(strings.Join(append([]string{"args"}, args...), " "), func(t *testing.T) {
			first, err := run(t, append([]string{"config"}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(first), 0o644); err != nil {
				t.Fatal(err)
			}
			second, err := run(t, "config", "--config", file)
			if err != nil {
				t.Fatalf("the printed config is not a valid --config file: %v", err)
			}
			if first != second {
				t.Errorf("the config changed on the way through --config:\n%s", firstDiff(first, second))
			}
			// dream train accepts it as well (no run is started: the
			// steps flag is refused after the file is read).
			if _, err := run(t, "train", "--config", file, "--steps", "-1"); err == nil || !strings.Contains(err.Error(), "--steps -1") {
				t.Errorf("train --config with the printed file: %v, want the --steps error only", err)
			}
		})
	}
}

// TestConfigReferenceUpToDate checks that docs/configuration.md is what
// `dream config --markdown` prints.
func TestConfigReferenceUpToDate(t *testing.T) {
	out, err := run(t, "config", "--markdown")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("..", "..", "docs", "configuration.md"), out,
		"go run ./cmd/dream config --markdown > docs/configuration.md")
}

// TestConfigBadInput checks that bad input is one line naming the problem.
func TestConfigBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("model:\n  dynamics: gaussian\n  no_such_key: 1\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown env", []string{"config", "--env", "nope"}, `--env "nope" is not valid`},
		{"unknown key", []string{"config", "--config", bad}, "no_such_key"},
		{"missing file", []string{"config", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{"markdown with env", []string{"config", "--markdown", "--env", "physics/cartpole"}, "--markdown"},
		{"bad dynamics", []string{"config", "--dynamics", "linear"}, "allowed: gaussian, deterministic, mixture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
			if strings.Contains(oneLine(err), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
