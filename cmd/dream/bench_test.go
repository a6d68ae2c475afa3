package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs/registry"
)

// runBenchArgs runs `dream bench` with args and returns its output.
func runBenchArgs(t *testing.T, args ...string) string {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"bench"}, args...))
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("dream bench %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// fakeTwin writes an executable that stands in for a Python with torch: it
// answers the import check and prints the twin's JSON with known times.
func fakeTwin(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "python-fake")
	script := `#!/bin/sh
if [ "$1" = "-c" ]; then exit 0; fi
echo '{"torch": "9.9", "threads": {"1": {"train_gaussian_ms": 8, "train_deterministic_ms": 6, "imagine_ms": 0.5}, "2": {"train_gaussian_ms": 4, "train_deterministic_ms": 7, "imagine_ms": 0.25}}, "best": {"train_gaussian_ms": 4, "train_deterministic_ms": 6, "imagine_ms": 0.25}, "config": {"batch": 16}}'
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBenchJSON(t *testing.T) {
	out := runBenchArgs(t, "--quick", "--json", "--python", fakeTwin(t))
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	want := map[string]bool{"train/gaussian": false, "train/deterministic": false, "planner/decision": false,
		"imagine/step": false, "train/e2e": false}
	for _, e := range registry.Entries() {
		if e.Name != "gridworld" {
			want["env/"+e.Name] = false
		}
	}
	for _, r := range rep.Rows {
		if _, ok := want[r.Name]; !ok {
			t.Errorf("unexpected row %q", r.Name)
			continue
		}
		want[r.Name] = true
		if !(r.NsPerOp > 0) || math.IsInf(r.NsPerOp, 0) || r.Ops < 1 {
			t.Errorf("%s: %g ns/op over %d ops", r.Name, r.NsPerOp, r.Ops)
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no row %q", name)
		}
	}
	if rep.Torch == nil || rep.Torch.Version != "9.9" {
		t.Fatalf("torch result %+v (%s), want the fake twin's", rep.Torch, rep.NoTorch)
	}
	// The ratios use the best PyTorch time of 1 and 2 threads.
	best := map[string]float64{"train/gaussian": 4e6, "train/deterministic": 6e6, "imagine/step": 0.25e6}
	for _, r := range rep.Rows {
		tn, ok := best[r.Name]
		if !ok {
			if r.Ratio != 0 {
				t.Errorf("%s has a ratio %g, want none", r.Name, r.Ratio)
			}
			continue
		}
		if r.TorchNsPerOp != tn || math.Abs(r.Ratio-r.NsPerOp/tn) > 1e-12*r.Ratio {
			t.Errorf("%s: torch %g ns, ratio %g; want %g ns, ratio %g", r.Name, r.TorchNsPerOp, r.Ratio, tn, r.NsPerOp/tn)
		}
	}
	if e := rep.E2E; e == nil || !(e.StepsPerSecond > 0) || !(e.ProjectedSecond > 0) {
		t.Errorf("e2e %+v, want positive steps/s and projection", rep.E2E)
	}
}

func TestBenchTable(t *testing.T) {
	out := runBenchArgs(t, "--quick", "--no-torch")
	for _, s := range []string{"NAME", "train/gaussian", "planner/decision", "env/physics/cartpole", "PyTorch: skipped", "projected"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestBenchNoTorchExplains(t *testing.T) {
	out := runBenchArgs(t, "--quick", "--json", "--python", filepath.Join(t.TempDir(), "no-such-python"))
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Torch != nil || !strings.Contains(rep.NoTorch, "python3-torch") {
		t.Errorf("no_torch %q, torch %+v; want an explanation naming python3-torch", rep.NoTorch, rep.Torch)
	}
}

func TestBenchScaling(t *testing.T) {
	dir := t.TempDir()
	out := runBenchArgs(t, "--quick", "--no-torch", "--scaling", dir)
	if !strings.Contains(out, "scaling.png") {
		t.Errorf("output does not name the plot:\n%s", out)
	}
	md, err := os.ReadFile(filepath.Join(dir, "scaling.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"batch size B", "latent size d", "rank r", "Gaussian NLL", "samples K", "horizon H", "slope"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("scaling.md lacks %q", s)
		}
	}
	var sweeps []scalingSweep
	data, err := os.ReadFile(filepath.Join(dir, "scaling.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sweeps); err != nil {
		t.Fatal(err)
	}
	if len(sweeps) != 6 {
		t.Errorf("%d sweeps, want 6", len(sweeps))
	}
	f, err := os.Open(filepath.Join(dir, "scaling.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("plot is %v, want a readable size", b)
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--time", "0s"}, "--time"},
		{[]string{"--e2e-steps", "0"}, "--e2e-steps"},
	} {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"bench", "--quick", "--no-torch"}, tc.args...))
		err := cmd.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

func TestLogSlope(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    float64
	}{{"linear", 1}, {"quadratic", 2}, {"flat", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var pts []scalingPoint
			for _, x := range []float64{1, 2, 4, 8, 16} {
				pts = append(pts, scalingPoint{X: x, NsPerOp: 3 * math.Pow(x, tc.p)})
			}
			got := logSlope(pts)
			if got == nil || math.Abs(*got-tc.p) > 1e-9 {
				t.Errorf("slope %v, want %g", got, tc.p)
			}
		})
	}
	if logSlope([]scalingPoint{{X: 0, NsPerOp: 1}, {X: 4, NsPerOp: 2}}) != nil {
		t.Error("a slope from one point with x > 0")
	}
}
