package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeCurve writes a metrics file whose evaluations are returns at steps
// 1000, 2000, …, with a training row between them that is not read.
func writeCurve(t *testing.T, dir string, returns ...float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("kind,env_steps,eval_return,success\n")
	for i, r := range returns {
		b.WriteString("log," + strconv.Itoa((i+1)*1000-500) + ",,\n")
		b.WriteString("eval," + strconv.Itoa((i+1)*1000) + "," + strconv.FormatFloat(r, 'g', -1, 64) + ",\n")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "metrics.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCurves checks the AUC of each run (trapezoids over the step range),
// the groups' means, that --steps cuts the curves, and a pair's test.
func TestCurves(t *testing.T) {
	tmp := t.TempDir()
	a1 := writeCurve(t, filepath.Join(tmp, "a1"), 0, 10, 20) // AUC 10
	a2 := writeCurve(t, filepath.Join(tmp, "a2"), 0, 20, 20) // AUC 15
	b1 := filepath.Join(tmp, "b1")
	writeCurve(t, b1, 0, 30, 60)                             // AUC 30, read from its directory
	b2 := writeCurve(t, filepath.Join(tmp, "b2"), 0, 40, 40) // AUC 30
	var out, errOut bytes.Buffer
	if err := run([]string{"A=" + a1 + "," + a2, "B=" + b1 + "," + b2}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12.5 [10, 15]", "30 [30, 30]", "A − B", "-17.5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	// Over the first 2000 steps: A's AUCs 5 and 10, B's 15 and 20.
	if err := run([]string{"--steps", "2000", "A=" + a1 + "," + a2, "B=" + b1 + "," + b2}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "7.5 [5, 10]") || !strings.Contains(out.String(), "17.5 [15, 20]") {
		t.Errorf("--steps 2000:\n%s", out.String())
	}
	for _, args := range [][]string{nil, {"A"}, {"=x"}, {"A=" + filepath.Join(tmp, "none")}, {"--steps", "-1", "A=" + a1}, {"--steps", "500", "A=" + a1}} {
		if err := run(args, &out, &errOut); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("curves %q: error %v, want one line", args, err)
		}
	}
}
