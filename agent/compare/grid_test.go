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
	a := Grid([]string{"gaussian", "deterministic", "gaussian"}, 2)
	b := Grid([]string{"deterministic", "gaussian"}, 2)
	want := []Job{{"deterministic", 0}, {"deterministic", 1}, {"gaussian", 0}, {"gaussian", 1}}
	if !slices.Equal(a, want) || !slices.Equal(b, want) {
		t.Errorf("Grid = %v and %v, want %v", a, b, want)
	}
	if n := want[2].Name(); n != "gaussian-s0" {
		t.Errorf("name %q", n)
	}
}

// The shards of a grid partition it and differ in size by at most one.
func TestShardSelectPartitions(t *testing.T) {
	grid := Grid([]string{"gaussian", "deterministic", "mixture"}, 5)
	for _, n := range []int{1, 2, 4, 7, 15, 20} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
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

func TestReadCurve(t *testing.T) {
	dir := t.TempDir()
	metrics := strings.Join([]string{
		"kind,env_steps,grad_steps,episodes,wall_s,steps_per_s,train_return,eval_return,eval_return_lo,eval_return_hi,success,skipped_steps,total",
		"log,50,0,2,1,50,,,,,,0,",
		"eval,100,10,4,2,50,0.5,0.25,0,0.5,0.5,0,1.5",
		"log,150,20,6,3,50,0.5,,,,,0,1.2",
		"eval,200,30,8,4,50,0.5,1,1,1,1,0,1.1",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	curve, hasGoal, err := ReadCurve(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{100, 0.25, 0.5}, {200, 1, 1}}
	if !slices.Equal(curve, want) || !hasGoal {
		t.Errorf("curve %v (goal %v), want %v (goal true)", curve, hasGoal, want)
	}

	noGoal := strings.ReplaceAll(metrics, ",0.5,0,1.5", ",,0,1.5")
	noGoal = strings.ReplaceAll(noGoal, "1,1,1,1,0,1.1", "1,1,1,,0,1.1")
	os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(noGoal), 0o644)
	curve, hasGoal, err = ReadCurve(dir)
	if err != nil || hasGoal || len(curve) != 2 || !math.IsNaN(curve[1].Success) {
		t.Errorf("without success: %v, %v, %v", curve, hasGoal, err)
	}

	bad := strings.Replace(metrics, "eval,200", "eval,2x0", 1)
	os.WriteFile(filepath.Join(dir, agent.MetricsFile), []byte(bad), 0o644)
	if _, _, err := ReadCurve(dir); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("bad steps: error %v, want one naming line 5", err)
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
