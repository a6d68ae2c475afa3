package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

// trainFixture trains a small run in a new directory and returns it.
func trainFixture(t *testing.T) string {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps, cfg.SeedSteps = "gridworld/frozenlake-4x4", 80, 40
	cfg.EvalEvery, cfg.EvalEpisodes, cfg.LogEvery, cfg.CheckpointEvery = 80, 1, 20, 20
	dir := filepath.Join(t.TempDir(), "fixture")
	r, err := agent.New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// damageSection changes the data of one section of a checkpoint and
// writes a valid SHA-256 again (the layout is documented in
// agent/checkpoint.go: magic, version, then tag, length and data per
// section, then the checksum).
func damageSection(t *testing.T, data []byte, tag string, f func([]byte)) []byte {
	t.Helper()
	out := append([]byte(nil), data[:len(data)-sha256.Size]...)
	found := false
	for off := 12; off < len(out); {
		n := int(binary.LittleEndian.Uint64(out[off+4:]))
		if string(out[off:off+4]) == tag {
			f(out[off+12 : off+12+n])
			found = true
		}
		off += 12 + n
	}
	if !found {
		t.Fatalf("no section %s", tag)
	}
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

// TestDamagedFiles damages one file of a run directory (or an input file)
// at a time and runs the commands that read it in a process: each must
// exit with status 1 and one line on stderr that names the file and the
// problem, without a panic or a stack trace.
func TestDamagedFiles(t *testing.T) {
	fixture := trainFixture(t)
	ck, err := agent.Checkpoints(fixture)
	if err != nil || len(ck) < 2 {
		t.Fatalf("fixture checkpoints %v: %v", ck, err)
	}
	newest, older := filepath.Base(ck[len(ck)-1]), filepath.Base(ck[len(ck)-2])
	inputs := t.TempDir()
	badMap := filepath.Join(inputs, "two-starts.map")
	os.WriteFile(badMap, []byte("S.G\nS..\n"), 0o644)
	raggedMap := filepath.Join(inputs, "ragged.map")
	os.WriteFile(raggedMap, []byte("S..\n.G\n"), 0o644)
	badYAML := filepath.Join(inputs, "bad.yaml")
	os.WriteFile(badYAML, []byte("steps: [1, 2\n"), 0o644)
	wrongType := filepath.Join(inputs, "wrong.json")
	os.WriteFile(wrongType, []byte(`{"steps": "many"}`), 0o644)

	rewrite := func(name string, f func([]byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	runDirCommands := [][]string{
		{"train", "--resume", "--run-dir", "DIR"},
		{"eval", "--run-dir", "DIR", "--episodes", "1"},
		{"imagine", "--run-dir", "DIR", "--steps", "1", "--png", "OUT.png"},
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		cmds   [][]string
		want   []string
	}{
		{"truncated checkpoint", rewrite(newest, func(b []byte) []byte { return b[:len(b)/2] }),
			runDirCommands, []string{newest, "checksum mismatch (the file is truncated or corrupted)", "the older checkpoint " + older}},
		{"checkpoint cut in its header", rewrite(newest, func(b []byte) []byte { return b[:10] }),
			runDirCommands, []string{newest, "not a dream checkpoint"}},
		{"flipped byte", rewrite(newest, func(b []byte) []byte { b[len(b)/3] ^= 1; return b }),
			runDirCommands, []string{newest, "checksum mismatch"}},
		{"other version", rewrite(newest, func(b []byte) []byte { b[8] = 7; return b }),
			runDirCommands, []string{newest, "format version 7 (this dream reads version 1)"}},
		{"another architecture", rewrite(agent.ConfigFile, func(b []byte) []byte {
			var c map[string]any
			json.Unmarshal(b, &c)
			c["model"].(map[string]any)["hidden"] = 64
			out, _ := json.Marshal(c)
			return out
		}), runDirCommands, []string{newest, "written by another run or architecture: model.hidden is 32 in the checkpoint and 64 in config.json"}},
		{"corrupted replay section", rewrite(newest, func(b []byte) []byte {
			return damageSection(t, b, "RPLY", func(s []byte) { s[len(s)/2] ^= 0xff })
		}), runDirCommands, []string{newest, "replay section", "corrupt"}},
		{"corrupted model section", rewrite(newest, func(b []byte) []byte {
			return damageSection(t, b, "MODL", func(s []byte) { s[len(s)/2] ^= 0xff })
		}), runDirCommands, []string{newest, "model section", "corrupt"}},
		{"the only checkpoint damaged", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, older))
			rewrite(newest, func(b []byte) []byte { return b[:len(b)-1] })(t, dir)
		}, runDirCommands, []string{newest, "checksum mismatch"}},
		{"malformed config.json", rewrite(agent.ConfigFile, func(b []byte) []byte { return b[:len(b)/2] }),
			runDirCommands, []string{agent.ConfigFile, "bad config"}},
		{"empty config.json", rewrite(agent.ConfigFile, func([]byte) []byte { return nil }),
			runDirCommands[:2], []string{agent.ConfigFile, "bad config: the file is empty"}},
		{"config.json with an unknown key", rewrite(agent.ConfigFile, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"env"`), []byte(`"enviro"`), 1)
		}), runDirCommands[:2], []string{agent.ConfigFile, `unknown field "enviro"`}},
		{"config.json out of range", rewrite(agent.ConfigFile, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"batch_size": 16`), []byte(`"batch_size": -3`), 1)
		}), runDirCommands[:2], []string{agent.ConfigFile, "batch_size -3 (allowed: 1 to 4096)"}},
		{"no config.json", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, agent.ConfigFile)) },
			runDirCommands[:2], []string{"no config.json: not a dream run directory"}},
		{"malformed config file", nil,
			[][]string{{"train", "--preset", "debug", "--config", badYAML, "--run-dir", "DIR/new"}}, []string{badYAML, "bad config"}},
		{"config file of the wrong type", nil,
			[][]string{{"train", "--preset", "debug", "--config", wrongType, "--run-dir", "DIR/new"}}, []string{wrongType, "steps"}},
		{"map with two starts", nil, [][]string{
			{"train", "--preset", "debug", "--env", "gridworld", "--map", badMap, "--run-dir", "DIR/new"},
			{"rollout", "--env", "gridworld", "--map", badMap, "--actions", "0"},
			{"record", "--env", "gridworld", "--map", badMap, "--gif", "OUT.gif"},
		}, []string{badMap, "line 2", "second start tile"}},
		{"ragged map", nil, [][]string{
			{"train", "--preset", "debug", "--env", "gridworld", "--map", raggedMap, "--run-dir", "DIR/new"},
			{"rollout", "--env", "gridworld", "--map", raggedMap, "--actions", "0"},
		}, []string{raggedMap, "line 2"}},
		{"missing map", nil, [][]string{
			{"train", "--preset", "debug", "--env", "gridworld", "--map", filepath.Join(inputs, "nope.map"), "--run-dir", "DIR/new"},
		}, []string{"nope.map", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, fixture)
			if tt.damage != nil {
				tt.damage(t, dir)
			}
			before := listDir(t, dir)
			for _, args := range tt.cmds {
				args = append([]string(nil), args...)
				for i, a := range args {
					a = strings.ReplaceAll(a, "DIR", dir)
					args[i] = strings.ReplaceAll(a, "OUT", filepath.Join(t.TempDir(), "out"))
				}
				stdout, stderr, code := execDream(t, args...)
				if code != 1 {
					t.Errorf("dream %s: exit %d, want 1\nstdout: %s\nstderr: %s", args[0], code, stdout, stderr)
				}
				line := strings.TrimSuffix(stderr, "\n")
				if strings.Contains(line, "\n") || !strings.HasPrefix(line, "dream: ") {
					t.Errorf("dream %s: stderr is not one line:\n%s", args[0], stderr)
				}
				for _, bad := range []string{"panic", "goroutine", ".go:"} {
					if strings.Contains(stderr, bad) {
						t.Errorf("dream %s: stderr mentions %q:\n%s", args[0], bad, stderr)
					}
				}
				for _, w := range tt.want {
					if !strings.Contains(line, w) {
						t.Errorf("dream %s: %q does not mention %q", args[0], line, w)
					}
				}
				t.Logf("dream %s: %s", args[0], line)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("a refused command changed the run directory:\n%s\nnow\n%s", before, after)
			}
		})
	}
}

// listDir describes a directory's files by name and content hash.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %x\n", e.Name(), sha256.Sum256(data))
	}
	return b.String()
}
