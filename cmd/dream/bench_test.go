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
// answers the import check, checks that the fixture holds what the twin
// reads, and prints the twin's JSON with known times, named after the
// style it was asked for ("2-tuned" for tuned). The plain twin is twice as
// slow.
func fakeTwin(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "python-fake")
	script := `#!/bin/sh
if [ "$1" = "-c" ]; then exit 0; fi
for f in fixture.json obs.npy gaussian.dwm deterministic.dwm mixture.dwm imagine.dwm imagine-z.npy; do
	[ -s "$3/$f" ] || { echo "no $f" >&2; exit 1; }
done
k=1; [ "$5" = plain ] && k=2
row() { echo "\"$1\": {\"best_ms\": $(($2*k)), \"median_ms\": $(($3*k))}"; }
one="$(row train/gaussian 8 9), $(row train/deterministic 6 6), $(row train/mixture 10 10), $(row imagine/step 1 1)"
two="$(row train/gaussian 4 5), $(row train/deterministic 7 7), $(row train/mixture 20 20), $(row imagine/step 2 2)"
echo "{\"twin\": \"2-$5\", \"version\": 2, \"style\": \"$5\", \"torch\": \"9.9\", \"threads\": {\"1\": {$one}, \"2\": {$two}}}"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBenchJSON(t *testing.T) {
	out := runBenchArgs(t, "--quick", "--json", "--twin", "both", "--python", fakeTwin(t))
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	want := map[string]bool{"train/gaussian": false, "train/deterministic": false, "train/mixture": false,
		"planner/decision": false, "imagine/step": false, "train/e2e": false}
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
		if r.Name != "train/e2e" && r.MedianNsPerOp < r.NsPerOp {
			t.Errorf("%s: median %g ns/op below the best %g", r.Name, r.MedianNsPerOp, r.NsPerOp)
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no row %q", name)
		}
	}
	if len(rep.Twins) != 2 || rep.Twins[0].Twin != "2-plain" || rep.Twins[1].Twin != "2-tuned" || rep.Twins[1].Torch != "9.9" {
		t.Fatalf("twins %+v (%s), want the fake plain and tuned twins", rep.Twins, rep.NoTorch)
	}
	// Each ratio names its twin and uses its best thread count.
	type best struct {
		ns, median float64
		threads    string
	}
	tuned := map[string]best{"train/gaussian": {4e6, 5e6, "2"}, "train/deterministic": {6e6, 6e6, "1"},
		"train/mixture": {10e6, 10e6, "1"}, "imagine/step": {1e6, 1e6, "1"}}
	for _, r := range rep.Rows {
		b, ok := tuned[r.Name]
		if !ok {
			if len(r.Twins) != 0 {
				t.Errorf("%s has twins %+v, want none", r.Name, r.Twins)
			}
			continue
		}
		if len(r.Twins) != 2 {
			t.Fatalf("%s: twins %+v, want plain and tuned", r.Name, r.Twins)
		}
		for i, tw := range r.Twins {
			k := float64(2 - i) // the plain twin is twice as slow
			if tw.Twin != rep.Twins[i].Twin || tw.NsPerOp != k*b.ns || tw.MedianNsPerOp != k*b.median || tw.Threads != b.threads ||
				math.Abs(tw.Ratio-r.NsPerOp/tw.NsPerOp) > 1e-12*tw.Ratio || math.Abs(tw.MedianRatio-r.MedianNsPerOp/tw.MedianNsPerOp) > 1e-12*tw.MedianRatio {
				t.Errorf("%s: twin %+v; want %s at %g ns (median %g) with %s thread(s) and the ratios to ours", r.Name, tw, rep.Twins[i].Twin, k*b.ns, k*b.median, b.threads)
			}
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
	if rep.Twins != nil || !strings.Contains(rep.NoTorch, "python3-torch") {
		t.Errorf("no_torch %q, twins %+v; want an explanation naming python3-torch", rep.NoTorch, rep.Twins)
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
		{[]string{"--twin", "fast"}, "--twin"},
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
