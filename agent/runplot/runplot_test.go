package runplot

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/dreamrl/dream/agent"
)

// Headers of metrics.csv: before success_lo and success_hi, after them,
// and a reduced log with its columns reordered and one unknown to this
// package.
const (
	headerOld = "kind,env_steps,grad_steps,episodes,wall_s,steps_per_s,train_return,eval_return,eval_return_lo,eval_return_hi,success,skipped_steps,total,prediction,guard,reward,cont,value,decoder,embed_std,log_var,grad_norm,value_target"
	headerNew = "kind,env_steps,grad_steps,episodes,wall_s,steps_per_s,train_return,eval_return,eval_return_lo,eval_return_hi,success,success_lo,success_hi,skipped_steps,total,prediction,guard,reward,cont,value,decoder,embed_std,log_var,grad_norm,value_target"
)

const oldLog = headerOld + `
log,100,0,14,0.003,30029.3,0,,,,,0,,,,,,,,,,,
eval,200,0,27,0.012,15519.2,0,0,0,0,0,0,,,,,,,,,,,
log,300,25,34,0.17,1722.06,0.05,,,,,0,10.98,10.43,8.87,0.0025,0.62,0.0025,0.58,0.86,-0.05,12.8,0.006
eval,400,50,41,0.30,1322.1,0.05,0.2,-0.19,0.59,0.2,0,9.84,9.16,11.17,1.1e-05,0.58,0.00055,0.48,0.85,-0.09,9.79,-0.004
`

const newLog = headerNew + `
log,100,0,14,0.003,30029.3,0,,,,,,,0,,,,,,,,,,,
eval,200,0,27,0.012,15519.2,0,0,0,0,0,0,0.43,0,,,,,,,,,,,
log,300,25,34,0.17,1722.06,0.05,,,,,,,0,10.98,10.43,8.87,0.0025,0.62,0.0025,0.58,0.86,-0.05,12.8,0.006
eval,400,50,41,0.30,1322.1,0.05,0.2,-0.19,0.59,0.2,0.04,0.62,0,9.84,9.16,11.17,1.1e-05,0.58,0.00055,0.48,0.85,-0.09,9.79,-0.004
`

// sameXYs reports whether got and want hold the same points within tol.
func sameXYs(got, want plotter.XYs, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].X != want[i].X || math.Abs(got[i].Y-want[i].Y) > tol {
			return false
		}
	}
	return true
}

func TestReadMetrics(t *testing.T) {
	const tol = 1e-12
	tests := []struct {
		name    string
		text    string
		rows    int
		damaged int
		// series maps "kind/column" to the points it must read.
		series map[string]plotter.XYs
	}{
		{"old header", oldLog, 4, 0, map[string]plotter.XYs{
			"eval/eval_return":    {{X: 200, Y: 0}, {X: 400, Y: 0.2}},
			"eval/eval_return_lo": {{X: 200, Y: 0}, {X: 400, Y: -0.19}},
			"eval/success":        {{X: 200, Y: 0}, {X: 400, Y: 0.2}},
			"eval/success_lo":     nil,
			"/prediction":         {{X: 300, Y: 10.43}, {X: 400, Y: 9.16}},
			"log/prediction":      {{X: 300, Y: 10.43}},
		}},
		{"new header", newLog, 4, 0, map[string]plotter.XYs{
			"eval/eval_return": {{X: 200, Y: 0}, {X: 400, Y: 0.2}},
			"eval/success_lo":  {{X: 200, Y: 0}, {X: 400, Y: 0.04}},
			"eval/success_hi":  {{X: 200, Y: 0.43}, {X: 400, Y: 0.62}},
			"/reward":          {{X: 300, Y: 0.0025}, {X: 400, Y: 1.1e-05}},
		}},
		{"reordered, unknown and missing columns", "env_steps,eval_return,kind,future_column\n400,1.5,eval,7\n200,0.5,eval,\n300,,log,3\n", 3, 0, map[string]plotter.XYs{
			"eval/eval_return":    {{X: 200, Y: 0.5}, {X: 400, Y: 1.5}},
			"/future_column":      {{X: 300, Y: 3}, {X: 400, Y: 7}},
			"eval/eval_return_lo": nil,
			"/prediction":         nil,
		}},
		{"non-finite values are missing", "kind,env_steps,prediction\nlog,100,NaN\nlog,200,+Inf\nlog,300,2\n", 3, 0, map[string]plotter.XYs{
			"/prediction": {{X: 300, Y: 2}},
		}},
		{"last row cut short", oldLog + "log,500,75,50,0.4", 4, 6, map[string]plotter.XYs{
			"eval/eval_return": {{X: 200, Y: 0}, {X: 400, Y: 0.2}},
		}},
		{"damaged value stops reading", "kind,env_steps,prediction\nlog,100,1\nlog,200,x1\nlog,300,2\n", 1, 3, map[string]plotter.XYs{
			"/prediction": {{X: 100, Y: 1}},
		}},
		{"damaged step stops reading", "kind,env_steps,prediction\nlog,100,1\nlog,2e2,1\n", 1, 3, nil},
		{"header only", headerNew + "\n", 0, 0, map[string]plotter.XYs{"eval/eval_return": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ReadMetrics(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Rows) != tt.rows || m.Damaged != tt.damaged {
				t.Errorf("%d rows, damaged line %d; want %d rows, damaged line %d", len(m.Rows), m.Damaged, tt.rows, tt.damaged)
			}
			for key, want := range tt.series {
				kind, column, _ := strings.Cut(key, "/")
				if got := m.Series(kind, column); !sameXYs(got, want, tol) {
					t.Errorf("Series(%q, %q) = %v, want %v", kind, column, got, want)
				}
			}
		})
	}
}

func TestReadMetricsNotALog(t *testing.T) {
	tests := []struct {
		name, text string
	}{
		{"empty", ""},
		{"no env_steps", "kind,steps\nlog,100\n"},
		{"no kind", "env_steps,eval_return\n100,1\n"},
		{"bad header", "kind,\"env_steps\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadMetrics(strings.NewReader(tt.text)); !errors.Is(err, ErrNotMetrics) {
				t.Errorf("error %v, want ErrNotMetrics", err)
			}
		})
	}
}

// testRun returns a run of env read from metrics text.
func testRun(t *testing.T, dir, env, text string) Run {
	t.Helper()
	m, err := ReadMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return Run{Dir: dir, Label: filepath.Base(dir), Env: env, Dynamics: "gaussian", Metrics: m}
}

func TestSetLabels(t *testing.T) {
	type runID struct {
		dir      string
		dynamics string
		seed     uint64
	}
	tests := []struct {
		name string
		runs []runID
		want []string
	}{
		{"distinct base names", []runID{{"runs/a", "gaussian", 0}, {"runs/b/", "gaussian", 0}}, []string{"a", "b"}},
		{"shared base name", []runID{{"x/run", "gaussian", 0}, {"y/run", "deterministic", 1}, {"z/other", "gaussian", 0}},
			[]string{"run (gaussian, seed 0)", "run (deterministic, seed 1)", "other"}},
		{"shared base name, dynamics and seed", []runID{{"x/run", "gaussian", 0}, {"y/run", "gaussian", 0}}, []string{"x/run", "y/run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := make([]Run, len(tt.runs))
			for i, r := range tt.runs {
				runs[i] = Run{Dir: r.dir, Dynamics: r.dynamics, Seed: r.seed}
			}
			SetLabels(runs)
			for i, r := range runs {
				if r.Label != tt.want[i] {
					t.Errorf("run %s labelled %q, want %q", r.Dir, r.Label, tt.want[i])
				}
			}
		})
	}
}

func TestSameEnv(t *testing.T) {
	tests := []struct {
		name    string
		runs    []Run
		mention []string
	}{
		{"one run", []Run{{Dir: "a", Env: "physics/cartpole"}}, nil},
		{"same env", []Run{{Dir: "a", Env: "physics/cartpole"}, {Dir: "b", Env: "physics/cartpole"}}, nil},
		{"same map", []Run{{Dir: "a", Env: "gridworld", Map: "maps/x.map"}, {Dir: "b", Env: "gridworld", Map: "maps/./x.map"}}, nil},
		{"different envs", []Run{{Dir: "a", Env: "gridworld/frozenlake-4x4"}, {Dir: "b", Env: "physics/cartpole"}},
			[]string{"a is gridworld/frozenlake-4x4", "b is physics/cartpole"}},
		{"different maps", []Run{{Dir: "a", Env: "gridworld", Map: "x.map"}, {Dir: "b", Env: "gridworld", Map: "y.map"}},
			[]string{"gridworld with map x.map", "gridworld with map y.map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SameEnv(tt.runs)
			if tt.mention == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrMixedEnvs) {
				t.Fatalf("error %v, want ErrMixedEnvs", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"env": "gridworld", "map": "maps/x.map", "seed": 3, "model": {"dynamics": "mixture"}, "unknown": 1}`
	os.WriteFile(filepath.Join(dir, agent.ConfigFile), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(newLog), 0o644)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.EnvName() != "gridworld with map maps/x.map" || r.Dynamics != "mixture" || r.Seed != 3 || r.Metrics.Evaluations() != 2 {
		t.Errorf("loaded %+v", r)
	}

	noMetrics := t.TempDir()
	os.WriteFile(filepath.Join(noMetrics, agent.ConfigFile), []byte(cfg), 0o644)
	badMetrics := t.TempDir()
	os.WriteFile(filepath.Join(badMetrics, agent.ConfigFile), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(badMetrics, agent.MetricsFile), []byte("a,b\n1,2\n"), 0o644)
	badConfig := t.TempDir()
	os.WriteFile(filepath.Join(badConfig, agent.ConfigFile), []byte("{"), 0o644)
	for _, tt := range []struct{ name, dir, mention string }{
		{"empty directory", t.TempDir(), "no config.json"},
		{"no metrics", noMetrics, "no metrics.csv"},
		{"not a metrics log", badMetrics, "not a metrics log"},
		{"bad config", badConfig, "config.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.dir)
			if !errors.Is(err, agent.ErrRunDir) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %v, want agent.ErrRunDir mentioning %q", err, tt.mention)
			}
		})
	}
}

func TestDraw(t *testing.T) {
	const cartpole = "kind,env_steps,eval_return,eval_return_lo,eval_return_hi,prediction,reward\n" +
		"log,100,,,,5,1e-5\neval,200,20,10,30,4,1e-3\neval,400,60,40,80,3,1e-1\n"
	tests := []struct {
		name          string
		runs          func(t *testing.T) []Run
		width, height int
	}{
		{"two runs, old and new header", func(t *testing.T) []Run {
			return []Run{testRun(t, "a", "gridworld/frozenlake-4x4", oldLog), testRun(t, "b", "gridworld/frozenlake-4x4", newLog)}
		}, 1200, 800},
		{"losses only", func(t *testing.T) []Run {
			return []Run{testRun(t, "a", "gridworld/frozenlake-4x4", "kind,env_steps,prediction,value\nlog,100,3,0.5\nlog,200,2,0.4\n")}
		}, 640, 480},
		{"evaluations only", func(t *testing.T) []Run {
			return []Run{testRun(t, "a", "physics/cartpole", "kind,env_steps,eval_return\neval,100,10\neval,200,30\n")}
		}, 300, 200},
		{"log-scale loss, one run without evaluations", func(t *testing.T) []Run {
			return []Run{testRun(t, "a", "physics/cartpole", cartpole),
				testRun(t, "b", "physics/cartpole", "kind,env_steps,prediction,reward\nlog,100,6,1e-4\n")}
		}, 1000, 700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Draw(&buf, tt.runs(t), tt.width, tt.height); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.width || b.Dy() != tt.height {
				t.Errorf("picture of %d×%d pixels, want %d×%d", b.Dx(), b.Dy(), tt.width, tt.height)
			}
		})
	}
	t.Run("nothing to draw", func(t *testing.T) {
		runs := []Run{testRun(t, "a", "physics/cartpole", "kind,env_steps,prediction\nlog,100,\n")}
		if err := Draw(&bytes.Buffer{}, runs, 400, 300); !errors.Is(err, ErrNothing) {
			t.Errorf("error %v, want ErrNothing", err)
		}
	})
}
