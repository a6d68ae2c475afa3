package compare

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

func TestParseShard(t *testing.T) {
	cases := []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"", Shard{}, true},
		{"0/1", Shard{0, 1}, true},
		{"3/4", Shard{3, 4}, true},
		{" 1 / 2 ", Shard{1, 2}, true},
		{"4/4", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"1", Shard{}, false},
		{"a/b", Shard{}, false},
		{"1/2/3", Shard{}, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseShard(c.in)
			if (err == nil) != c.ok || (c.ok && got != c.want) {
				t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
			}
			if !c.ok && !errors.Is(err, ErrShard) {
				t.Errorf("error %v does not wrap ErrShard", err)
			}
		})
	}
}

func TestGrid(t *testing.T) {
	job := func(v, d string, seed uint64) Job { return Job{Variant: v, Dynamics: d, Seed: seed} }
	cases := []struct {
		name     string
		variants []string
		dynamics []string
		seeds    int
		want     []Job
	}{
		{"dynamics sorted, duplicates dropped", nil, []string{"gaussian", "deterministic", "gaussian"}, 2,
			[]Job{job("", "deterministic", 0), job("", "deterministic", 1), job("", "gaussian", 0), job("", "gaussian", 1)}},
		{"no variant is one variant", []string{""}, []string{"deterministic", "gaussian"}, 1,
			[]Job{job("", "deterministic", 0), job("", "gaussian", 0)}},
		// Numbers by value: 10 after 2.
		{"variants first, by value", []string{"planner.horizon=10", "planner.horizon=2", "planner.horizon=10"}, []string{"gaussian", "deterministic"}, 1,
			[]Job{job("planner.horizon=2", "deterministic", 0), job("planner.horizon=2", "gaussian", 0),
				job("planner.horizon=10", "deterministic", 0), job("planner.horizon=10", "gaussian", 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Grid(c.variants, c.dynamics, c.seeds); !slices.Equal(got, c.want) {
				t.Errorf("Grid = %v, want %v", got, c.want)
			}
		})
	}
}

func TestJobNames(t *testing.T) {
	cases := []struct {
		job       Job
		name, arm string
	}{
		{Job{Dynamics: "gaussian"}, "gaussian-s0", "gaussian"},
		{Job{Variant: "planner.horizon=3", Dynamics: "gaussian", Seed: 2}, "planner.horizon=3_gaussian-s2", "planner.horizon=3 gaussian"},
		{Job{Variant: "model.frame_stack=1,planner.horizon=3", Dynamics: "deterministic", Seed: 10},
			"model.frame_stack=1,planner.horizon=3_deterministic-s10", "model.frame_stack=1,planner.horizon=3 deterministic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.job.Name(); got != c.name {
				t.Errorf("Name() = %q, want %q", got, c.name)
			}
			if got := c.job.Arm(); got != c.arm {
				t.Errorf("Arm() = %q, want %q", got, c.arm)
			}
		})
	}
}

func TestVariantOrder(t *testing.T) {
	// Sorted as VariantOrder should sort them.
	want := []string{"", "planner.horizon=2", "planner.horizon=10", "planner.horizon=abc",
		"planner.risk=cvar:0.1", "planner.risk=mean"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, VariantOrder)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
	multi := []string{"model.frame_stack=3,planner.horizon=1", "model.frame_stack=1,planner.horizon=5", "model.frame_stack=1,planner.horizon=3"}
	slices.SortFunc(multi, VariantOrder)
	if want := []string{"model.frame_stack=1,planner.horizon=3", "model.frame_stack=1,planner.horizon=5", "model.frame_stack=3,planner.horizon=1"}; !slices.Equal(multi, want) {
		t.Errorf("sorted %q, want %q", multi, want)
	}
}

// The shards of a grid partition it and differ in size by at most one.
func TestShardSelectPartitions(t *testing.T) {
	grids := map[string][]Job{
		"dynamics": Grid(nil, []string{"gaussian", "deterministic", "mixture"}, 5),
		"variants": Grid([]string{"planner.horizon=1", "planner.horizon=3", "planner.horizon=5"}, []string{"gaussian", "deterministic"}, 3),
	}
	for gname, grid := range grids {
		for _, n := range []int{1, 2, 4, 7, 15, 20} {
			t.Run(fmt.Sprintf("%s/n=%d", gname, n), func(t *testing.T) {
				seen := map[Job]int{}
				lo, hi := len(grid), 0
				for i := 0; i < n; i++ {
					part := Shard{Index: i, Count: n}.Select(grid)
					lo, hi = min(lo, len(part)), max(hi, len(part))
					for _, j := range part {
						seen[j]++
					}
				}
				if len(seen) != len(grid) {
					t.Errorf("%d distinct jobs, want %d", len(seen), len(grid))
				}
				for j, k := range seen {
					if k != 1 {
						t.Errorf("job %v in %d shards", j, k)
					}
				}
				if hi-lo > 1 {
					t.Errorf("shard sizes from %d to %d", lo, hi)
				}
			})
		}
	}
}

func TestReadCurve(t *testing.T) {
	nan := math.NaN()
	// The header of an older version, without success_lo and success_hi.
	oldLog := strings.Join([]string{
		"kind,env_steps,grad_steps,episodes,wall_s,steps_per_s,train_return,eval_return,eval_return_lo,eval_return_hi,success,skipped_steps,total",
		"log,50,0,2,1,50,,,,,,0,",
		"eval,100,10,4,2,50,0.5,0.25,0,0.5,0.5,0,1.5",
		"log,150,20,6,3,50,0.5,,,,,0,1.2",
		"eval,200,30,8,4,50,0.5,1,1,1,1,0,1.1",
	}, "\n") + "\n"
	newLog := strings.Join([]string{
		"kind,env_steps,grad_steps,episodes,wall_s,steps_per_s,train_return,eval_return,eval_return_lo,eval_return_hi,success,success_lo,success_hi,skipped_steps,total",
		"eval,200,30,8,4,50,0.5,1,1,1,1,0.8,1,0,1.1",
		"log,150,20,6,3,50,0.5,,,,,,,0,1.2",
		"eval,100,10,4,2,50,0.5,0.25,0,0.5,0.5,0.2,0.8,0,1.5",
	}, "\n") + "\n"
	noGoal := strings.ReplaceAll(oldLog, ",0.5,0,1.5", ",,0,1.5")
	noGoal = strings.ReplaceAll(noGoal, "1,1,1,1,0,1.1", "1,1,1,,0,1.1")
	cases := []struct {
		name    string
		log     string
		want    []Point
		hasGoal bool
		err     string // part of the error; empty for none
	}{
		{"current header", newLog, []Point{{100, 0.25, 0, 0.5, 0.5, 0.2, 0.8}, {200, 1, 1, 1, 1, 0.8, 1}}, true, ""},
		{"older header", oldLog, []Point{{100, 0.25, 0, 0.5, 0.5, nan, nan}, {200, 1, 1, 1, 1, nan, nan}}, true, ""},
		{"no goal", noGoal, []Point{{100, 0.25, 0, 0.5, nan, nan, nan}, {200, 1, 1, 1, nan, nan, nan}}, false, ""},
		{"bad steps", strings.Replace(oldLog, "eval,200", "eval,2x0", 1), nil, false, "line 5"},
		{"bad success_lo", strings.Replace(newLog, "0.2,0.8", "0.2x,0.8", 1), nil, false, "success_lo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(c.log), 0o644); err != nil {
				t.Fatal(err)
			}
			curve, hasGoal, err := ReadCurve(dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %v, want one naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			same := func(a, b Point) bool {
				eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
				return a.Steps == b.Steps && eq(a.Return, b.Return) && eq(a.ReturnLo, b.ReturnLo) && eq(a.ReturnHi, b.ReturnHi) &&
					eq(a.Success, b.Success) && eq(a.SuccessLo, b.SuccessLo) && eq(a.SuccessHi, b.SuccessHi)
			}
			if !slices.EqualFunc(curve, c.want, same) || hasGoal != c.hasGoal {
				t.Errorf("curve %v (goal %v), want %v (goal %v)", curve, hasGoal, c.want, c.hasGoal)
			}
		})
	}
}

// TestFillSuccessIntervals checks that the evaluations of a log without
// success_lo and success_hi get the Wilson interval of their rate.
func TestFillSuccessIntervals(t *testing.T) {
	nan := math.NaN()
	curve := []Point{
		{Steps: 100, Success: 0.45, SuccessLo: nan, SuccessHi: nan},
		{Steps: 200, Success: nan, SuccessLo: nan, SuccessHi: nan},
		{Steps: 300, Success: 1, SuccessLo: 0.5, SuccessHi: 1},
	}
	fillSuccessIntervals(curve, 20)
	lo, hi := agent.WilsonInterval(9, 20)
	if curve[0].SuccessLo != lo || curve[0].SuccessHi != hi {
		t.Errorf("9 of 20: [%g, %g], want [%g, %g]", curve[0].SuccessLo, curve[0].SuccessHi, lo, hi)
	}
	if !math.IsNaN(curve[1].SuccessLo) || !math.IsNaN(curve[1].SuccessHi) {
		t.Errorf("no goal: [%g, %g], want NaN", curve[1].SuccessLo, curve[1].SuccessHi)
	}
	if curve[2].SuccessLo != 0.5 || curve[2].SuccessHi != 1 {
		t.Errorf("a logged interval changed to [%g, %g]", curve[2].SuccessLo, curve[2].SuccessHi)
	}
}

func TestConfigDiff(t *testing.T) {
	a, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	a = a.WithDefaults()
	b := a
	if d := ConfigDiff(a, b); d != nil {
		t.Errorf("equal configs differ: %v", d)
	}
	b.Steps = 999
	b.Model.Dynamics = "deterministic"
	got := ConfigDiff(a, b)
	want := []string{`model.dynamics: "gaussian" vs "deterministic"`, "steps: 2000 vs 999"}
	if !slices.Equal(got, want) {
		t.Errorf("diff %q, want %q", got, want)
	}
}
