package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/worldmodel"
)

// trained trains a debug run of steps steps in a new directory.
func trained(t testing.TB, env string, steps int, mod func(*Config)) (*Run, string) {
	t.Helper()
	cfg, err := Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env, cfg.Steps = env, steps
	cfg.SeedSteps = steps / 2
	cfg.EvalEvery, cfg.EvalEpisodes = steps, 1
	cfg.LogEvery = max(steps/8, 1)
	cfg.CheckpointEvery = steps / 4
	if mod != nil {
		mod(&cfg)
	}
	dir := filepath.Join(t.TempDir(), "run")
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return run, dir
}

// section is one tagged section of a checkpoint file.
type section struct {
	tag  string
	data []byte
}

// splitCheckpoint cuts a valid checkpoint into its sections, following
// the format documented in checkpoint.go.
func splitCheckpoint(t *testing.T, data []byte) []section {
	t.Helper()
	rest := data[len(ckptMagic)+4 : len(data)-sha256.Size]
	var out []section
	for len(rest) > 0 {
		n := binary.LittleEndian.Uint64(rest[4:12])
		out = append(out, section{string(rest[:4]), append([]byte(nil), rest[12:12+n]...)})
		rest = rest[12+n:]
	}
	return out
}

// joinCheckpoint writes sections as a checkpoint of the given version,
// with a valid checksum.
func joinCheckpoint(version uint32, secs []section) []byte {
	var b bytes.Buffer
	b.WriteString(ckptMagic)
	binary.Write(&b, binary.LittleEndian, version)
	for _, s := range secs {
		b.WriteString(s.tag)
		binary.Write(&b, binary.LittleEndian, uint64(len(s.data)))
		b.Write(s.data)
	}
	sum := sha256.Sum256(b.Bytes())
	return append(b.Bytes(), sum[:]...)
}

// replaceSection returns secs with the data of tag changed by f.
func replaceSection(secs []section, tag string, f func([]byte) []byte) []section {
	out := make([]section, len(secs))
	for i, s := range secs {
		out[i] = section{s.tag, append([]byte(nil), s.data...)}
		if s.tag == tag {
			out[i].data = f(out[i].data)
		}
	}
	return out
}

// checkOneLine fails unless err is a one-line error that mentions every
// one of want.
func checkOneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

func TestIsStrayTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".config.json.tmp123", true},
		{".metrics.csv.tmp9", true},
		{".ckpt-0000000400.ckpt.tmp2745105", true},
		{"ckpt-0000000400.ckpt", false},
		{"config.json", false},
		{".config.json.tmp", false},
		{".config.json.tmpx1", false},
		{".notes.txt.tmp1", false},
		{".ckpt-x.ckpt.tmp1", false},
		{".tmp1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isStrayTemp(tt.name); got != tt.want {
				t.Errorf("isStrayTemp(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestStrayTempFiles checks what a process killed in the middle of an
// atomic write leaves behind: the temporary file is never read, a read-only
// Open leaves it alone, and the next Train removes it.
func TestStrayTempFiles(t *testing.T) {
	t.Run("killed while writing the config", func(t *testing.T) {
		dir := t.TempDir()
		stray := filepath.Join(dir, ".config.json.tmp4242")
		if err := os.WriteFile(stray, []byte(`{"env": "gridwo`), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := debugConfig(t, "gridworld/frozenlake-4x4", 40)
		if _, err := New(cfg, dir); err != nil {
			t.Fatalf("New over a stray temporary config: %v", err)
		}
		if _, err := os.Stat(stray); !os.IsNotExist(err) {
			t.Errorf("stray temporary config still there: %v", err)
		}
	})
	t.Run("killed while writing a checkpoint", func(t *testing.T) {
		run, dir := trained(t, "gridworld/frozenlake-4x4", 80, nil)
		ck, _ := Checkpoints(dir)
		good, _ := os.ReadFile(ck[len(ck)-1])
		names := []string{".ckpt-0000000100.ckpt.tmp17", ".metrics.csv.tmp3", ".config.json.tmp5"}
		for _, n := range names {
			// A half-written checkpoint, as SIGKILL leaves it.
			if err := os.WriteFile(filepath.Join(dir, n), good[:len(good)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		other := filepath.Join(dir, ".notes.txt.tmp1")
		os.WriteFile(other, nil, 0o644)
		ck2, _ := Checkpoints(dir)
		if len(ck2) != len(ck) {
			t.Errorf("Checkpoints lists %v, want %v", ck2, ck)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if r.EnvSteps() != run.EnvSteps() {
			t.Errorf("opened at step %d, want %d", r.EnvSteps(), run.EnvSteps())
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				t.Errorf("a read-only Open removed %s: %v", n, err)
			}
		}
		if err := r.SetSteps(120); err != nil {
			t.Fatal(err)
		}
		if err := r.Train(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
				t.Errorf("Train left %s behind: %v", n, err)
			}
		}
		if _, err := os.Stat(other); err != nil {
			t.Errorf("Train removed a file that is not its own: %v", err)
		}
	})
}

// TestOutOfDisk makes checkpoint writes fail after n bytes, as a full disk
// does, at every part of the file: the error names the file and the cause,
// the previous checkpoints are unchanged, nothing is left behind, and the
// run resumes from the last good checkpoint.
func TestOutOfDisk(t *testing.T) {
	run, dir := trained(t, "gridworld/frozenlake-4x4", 80, nil)
	ck, _ := Checkpoints(dir)
	want := map[string][]byte{}
	for _, p := range ck {
		want[p], _ = os.ReadFile(p)
	}
	size := int64(len(want[ck[len(ck)-1]]))
	tests := []struct {
		name  string
		limit int64
	}{
		{"nothing written", 1},
		{"inside the header", 10},
		{"inside the config", 100},
		{"inside the model", size / 4},
		{"inside the replay buffer", size - size/8},
		{"all but the checksum", size - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The same step: the write would replace the newest checkpoint.
			run.FailAfterBytes = tt.limit
			checkOneLine(t, run.Checkpoint(), "no space left on device", ck[len(ck)-1])
			for p, data := range want {
				if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
					t.Errorf("%s changed", p)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("left behind %s", e.Name())
				}
			}
		})
	}
	t.Run("while training on", func(t *testing.T) {
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetSteps(200); err != nil {
			t.Fatal(err)
		}
		r.FailAfterBytes = size / 2
		err = r.Train(context.Background())
		checkOneLine(t, err, "no space left on device", checkpointName(100))
		after, _ := Checkpoints(dir)
		if len(after) != len(ck) || after[len(after)-1] != ck[len(ck)-1] {
			t.Errorf("checkpoints %v after a failed write, want %v", after, ck)
		}
		r2, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if r2.EnvSteps() != 80 {
			t.Errorf("resumed at step %d, want 80", r2.EnvSteps())
		}
		if err := r2.Train(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r2.EnvSteps() != 200 {
			t.Errorf("finished at %d, want 200", r2.EnvSteps())
		}
	})
}

// TestCheckpointOfAnotherRun opens checkpoints that do not belong to the
// run directory's config.
func TestCheckpointOfAnotherRun(t *testing.T) {
	_, dir := trained(t, "gridworld/frozenlake-4x4", 80, nil)
	cfgPath := filepath.Join(dir, ConfigFile)
	orig, _ := os.ReadFile(cfgPath)
	ck, _ := Checkpoints(dir)
	newest := ck[len(ck)-1]
	tests := []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"another hidden size", func(c *Config) { c.Model.Hidden *= 2 }, []string{"model.hidden", newest, ConfigFile}},
		{"another latent size", func(c *Config) { c.Model.LatentDim++ }, []string{"model.latent", newest}},
		{"other dynamics", func(c *Config) { c.Model.Dynamics = worldmodel.DynamicsDeterministic }, []string{"model.dynamics", `"deterministic"`}},
		{"another seed", func(c *Config) { c.Seed = 77 }, []string{"seed is 0 in the checkpoint and 77 in " + ConfigFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer os.WriteFile(cfgPath, orig, 0o644)
			var c Config
			if err := json.Unmarshal(orig, &c); err != nil {
				t.Fatal(err)
			}
			tt.edit(&c)
			if err := writeJSONAtomic(cfgPath, c); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("Open: %v, want ErrCheckpoint", err)
			}
			checkOneLine(t, err, append(tt.want, "older checkpoint "+filepath.Base(ck[0]))...)
		})
	}
	t.Run("renamed to another step", func(t *testing.T) {
		data, _ := os.ReadFile(newest)
		moved := filepath.Join(dir, checkpointName(999))
		os.WriteFile(moved, data, 0o644)
		defer os.Remove(moved)
		_, err := Open(dir)
		checkOneLine(t, err, moved, "holds env step 80 but is named for step 999")
	})
}

// TestCheckpointBeforeANewKey opens checkpoints, and config.json files,
// written before a config key existed: the run opens with the value the
// run trained with (a pixel encoder without a hidden layer, values
// regressed on the returns themselves and on the max over actions,
// ε-random exploration, a constant learning rate, no averaged weights),
// though a new run of the same environment now defaults to another.
func TestCheckpointBeforeANewKey(t *testing.T) {
	for _, env := range []string{"gridworld/frozenlake-4x4", "physics/pendulum"} {
		t.Run(env, func(t *testing.T) {
			_, dir := trained(t, env, 80, func(c *Config) {
				c.Obs = "pixels"
				c.Model.EncoderHidden = -1
				c.ExploreDirected, c.Model.ValueExpectile, c.LRFinal = -1, -1, 1
				c.Model.AverageTau = -1
				c.Model.QHead = worldmodel.QHeadDirect
			})
			ck, _ := Checkpoints(dir)
			path := ck[len(ck)-1]
			good, _ := os.ReadFile(path)
			drop := func(b []byte) []byte {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				model := m["model"].(map[string]any)
				for _, key := range []string{"value_transform", "encoder_hidden", "value_expectile", "average_tau", "q_head"} {
					if _, ok := model[key]; !ok {
						t.Fatalf("the run's config has no model.%s to drop", key)
					}
					delete(model, key)
				}
				for _, key := range []string{"explore_directed", "explore_discount", "lr_final"} {
					if _, ok := m[key]; !ok {
						t.Fatalf("the run's config has no %s to drop", key)
					}
					delete(m, key)
				}
				out, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			cfgPath := filepath.Join(dir, ConfigFile)
			origCfg, _ := os.ReadFile(cfgPath)
			os.WriteFile(cfgPath, drop(origCfg), 0o644)
			os.WriteFile(path, joinCheckpoint(ckptVersion, replaceSection(splitCheckpoint(t, good), "CONF", drop)), 0o644)
			r, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			m := r.Config().Model
			if m.ValueTransform != worldmodel.ValueTransformNone || m.EncoderHidden != -1 || m.ValueExpectile != -1 || m.AverageTau != -1 || m.QHead != worldmodel.QHeadDirect {
				t.Errorf("value_transform %q, encoder_hidden %d, value_expectile %g, average_tau %g, q_head %q; want %q, -1, -1, -1 and %q",
					m.ValueTransform, m.EncoderHidden, m.ValueExpectile, m.AverageTau, m.QHead, worldmodel.ValueTransformNone, worldmodel.QHeadDirect)
			}
			if c := r.Config(); c.ExploreDirected != -1 || c.LRFinal != 1 || r.directed != nil {
				t.Errorf("explore_directed %g, lr_final %g; want -1 and 1, and no directed exploration", c.ExploreDirected, c.LRFinal)
			}
			if r.EnvSteps() != 80 {
				t.Errorf("opened at step %d, want 80", r.EnvSteps())
			}
			if err := r.Train(context.Background()); err != nil {
				t.Fatalf("Train after opening: %v", err)
			}
		})
	}
}

// TestCorruptSections writes checkpoints with a valid checksum whose
// sections are damaged, as a bug or a hand edit would leave them: each is
// one error naming the file and the section, never a panic.
func TestCorruptSections(t *testing.T) {
	_, dir := trained(t, "gridworld/frozenlake-4x4", 80, nil)
	ck, _ := Checkpoints(dir)
	path := ck[len(ck)-1]
	good, _ := os.ReadFile(path)
	secs := splitCheckpoint(t, good)
	if got := joinCheckpoint(ckptVersion, secs); !bytes.Equal(got, good) {
		t.Fatal("the test's checkpoint writer disagrees with the format")
	}
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"replay flipped byte", joinCheckpoint(ckptVersion, replaceSection(secs, "RPLY", flip)), "replay section"},
		{"replay truncated", joinCheckpoint(ckptVersion, replaceSection(secs, "RPLY", func(b []byte) []byte { return b[:len(b)-9] })), "replay section"},
		{"replay of another buffer", joinCheckpoint(ckptVersion, replaceSection(secs, "RPLY", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[12:], 7) // the frame height
			return b
		})), "replay section"},
		{"model flipped byte", joinCheckpoint(ckptVersion, replaceSection(secs, "MODL", flip)), "model section"},
		{"model empty", joinCheckpoint(ckptVersion, replaceSection(secs, "MODL", func([]byte) []byte { return []byte{} })), "model section"},
		{"state not JSON", joinCheckpoint(ckptVersion, replaceSection(secs, "STAT", func([]byte) []byte { return []byte("{") })), "state section"},
		{"negative steps", joinCheckpoint(ckptVersion, replaceSection(secs, "STAT", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"env_steps":80`), []byte(`"env_steps":-80`), 1)
		})), "env_steps is -80"},
		{"bad random state", joinCheckpoint(ckptVersion, replaceSection(secs, "STAT", func(b []byte) []byte {
			var st ckptState
			json.Unmarshal(b, &st)
			st.Env = []byte("nope")
			out, _ := json.Marshal(st)
			return out
		})), "random state"},
		{"config not JSON", joinCheckpoint(ckptVersion, replaceSection(secs, "CONF", func([]byte) []byte { return []byte("[1") })), "config section"},
		{"replay missing", joinCheckpoint(ckptVersion, secs[:3]), "section RPLY missing"},
		{"section twice", joinCheckpoint(ckptVersion, append(append([]section(nil), secs...), secs[1])), `section "STAT" appears twice`},
		{"other version", joinCheckpoint(ckptVersion+1, secs), "format version 2"},
		{"checksum only", good[len(good)-sha256.Size:], "not a dream checkpoint"},
		{"length past the end", func() []byte {
			b := joinCheckpoint(ckptVersion, secs)
			binary.LittleEndian.PutUint64(b[len(ckptMagic)+4+4:], math.MaxUint64)
			body := b[:len(b)-sha256.Size]
			sum := sha256.Sum256(body)
			return append(body, sum[:]...)
		}(), "longer than the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, good, 0o644)
			_, err := Open(dir)
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("Open: %v, want ErrCheckpoint", err)
			}
			checkOneLine(t, err, path, tt.want)
			if err := VerifyCheckpoint(path); (err == nil) != (tt.want != "format version 2" && tt.want != "not a dream checkpoint" &&
				tt.want != "longer than the file" && !strings.Contains(tt.want, "section ")) {
				t.Errorf("VerifyCheckpoint: %v", err)
			}
		})
	}
	if _, err := Open(dir); err != nil {
		t.Errorf("the restored checkpoint does not open: %v", err)
	}
}

// TestNonFinite injects NaNs and infinities into training batches. A bad
// step is skipped and counted, a run of MaxBadSteps bad steps stops the
// run with an error naming the loss after saving a checkpoint, and no NaN
// reaches the weights, the checkpoint or an action.
func TestNonFinite(t *testing.T) {
	tests := []struct {
		name   string
		inject func(b *worldmodel.Batch)
		every  int // inject into every n-th batch from step 100; 1 = all
		want   string
	}{
		{"NaN reward, every batch", func(b *worldmodel.Batch) { b.Rewards[0] = float32(math.NaN()) }, 1, "reward loss is NaN"},
		{"Inf observation, every batch", func(b *worldmodel.Batch) { b.Obs[len(b.Obs)-1] = float32(math.Inf(1)) }, 1, "loss is"},
		{"NaN action, every batch", func(b *worldmodel.Batch) { b.Actions[0] = float32(math.NaN()) }, 1, "loss is NaN"},
		{"NaN reward, every other batch", func(b *worldmodel.Batch) { b.Rewards[1] = float32(math.NaN()) }, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := debugConfig(t, "physics/pendulum", 240)
			cfg.Obs = "state"
			cfg.SeedSteps, cfg.TrainRatio, cfg.LogEvery, cfg.CheckpointEvery = 40, 0.5, 20, 40
			cfg.MaxBadSteps = 4
			dir := t.TempDir()
			run, err := New(cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			run.corruptBatch = func(b *worldmodel.Batch) {
				if run.st.EnvSteps >= 100 {
					if n%tt.every == 0 {
						tt.inject(b)
					}
					n++
				}
			}
			err = run.Train(context.Background())
			stopped := tt.every == 1
			if stopped {
				if !errors.Is(err, ErrNonFinite) {
					t.Fatalf("Train: %v, want ErrNonFinite", err)
				}
				checkOneLine(t, err, tt.want, "4 gradient steps in a row", "the last good checkpoint is kept")
				if run.st.SkippedSteps != cfg.MaxBadSteps || run.st.EnvSteps >= cfg.Steps {
					t.Errorf("skipped %d steps, stopped at %d", run.st.SkippedSteps, run.st.EnvSteps)
				}
				if _, err := os.Stat(filepath.Join(dir, checkpointName(run.EnvSteps()))); err != nil {
					t.Errorf("no checkpoint at the step it stopped: %v", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				// (240−100)·0.5 batches, every other one bad.
				if want := (cfg.Steps - 100) / 4; run.st.SkippedSteps < want-1 || run.st.SkippedSteps > want+1 {
					t.Errorf("skipped %d steps, want %d±1", run.st.SkippedSteps, want)
				}
				recs := readMetrics(t, dir)
				col := -1
				for i, name := range recs[0] {
					if name == "skipped_steps" {
						col = i
					}
				}
				last, _ := strconv.Atoi(recs[len(recs)-1][col])
				if last != run.st.SkippedSteps {
					t.Errorf("metrics.csv counts %d skipped steps, the run %d", last, run.st.SkippedSteps)
				}
			}
			// What is on disk is finite: reopen and act.
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.st.SkippedSteps != run.st.SkippedSteps {
				t.Errorf("the checkpoint counts %d skipped steps, the run %d", r.st.SkippedSteps, run.st.SkippedSteps)
			}
			rng := rand.New(rand.NewPCG(3, 3))
			r.obs.Reset(r.env.Reset(5))
			for i := 0; i < 30; i++ {
				z := r.obs.Encode(r.model)
				for _, v := range z {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("step %d: latent %v", i, z)
					}
				}
				a := r.plan.Plan(z, rng)
				for _, v := range a {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("step %d: action %v", i, a)
					}
				}
				obs, _, term, trunc := r.env.Step(a)
				r.obs.Push(obs)
				if term || trunc {
					r.obs.Reset(r.env.Reset(uint64(i)))
				}
			}
		})
	}
}

func TestNonFiniteEnvStep(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(-1)
	tests := []struct {
		name   string
		vec    []float64
		reward float64
		want   string
	}{
		{"finite", []float64{1, -2}, 0.5, ""},
		{"pixels", nil, 1, ""},
		{"NaN reward", []float64{1, 2}, nan, "reward NaN"},
		{"infinite reward", nil, inf, "reward -Inf"},
		{"NaN observation", []float64{1, nan}, 0, "component 1 is NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nonFinite(envs.Observation{Vector: tt.vec}, tt.reward)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("nonFinite = %q, want one mentioning %q", got, tt.want)
			}
		})
	}
}

// TestMetricsKeepsRowsBeforeDamage checks that a damaged row at the end
// of metrics.csv (a write cut short) costs only that row.
func TestMetricsKeepsRowsBeforeDamage(t *testing.T) {
	_, dir := trained(t, "gridworld/frozenlake-4x4", 80, nil)
	path := filepath.Join(dir, MetricsFile)
	good, _ := os.ReadFile(path)
	rows := len(readMetrics(t, dir))
	tests := []struct {
		name string
		tail string
		want int
	}{
		{"short row", "log,90,4\n", rows},
		{"unterminated quote", "log,\"90", rows},
		{"nothing", "", rows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, append(append([]byte(nil), good...), tt.tail...), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := openMetrics(path, worldmodel.Metrics{}.Names(), 1000); err != nil {
				t.Fatal(err)
			}
			if got := len(readMetrics(t, dir)); got != tt.want {
				t.Errorf("%d rows kept, want %d", got, tt.want)
			}
		})
	}
}
