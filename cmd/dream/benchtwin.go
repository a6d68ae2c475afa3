package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dreamrl/dream/experiments/bench"
	"github.com/dreamrl/dream/worldmodel"
)

// twinResult is what `torch_twin.py time` prints: per thread count, the
// best and the median time per step of each row.
type twinResult struct {
	// Twin is the twin's version string, "2-tuned" or "2-plain" with the
	// knobs that differ from its style's defaults.
	Twin string `json:"twin"`
	// Version is the twin's work version (bench.TwinVersion).
	Version  int            `json:"version"`
	Style    string         `json:"style"`
	Settings map[string]any `json:"settings,omitempty"`
	Torch    string         `json:"torch"`
	// Threads maps a thread count to the rows' times.
	Threads map[string]map[string]twinTime `json:"threads"`
	// OpenBLASThreads is OPENBLAS_NUM_THREADS as the twin saw it per
	// thread count ("unset": OpenBLAS's own count).
	OpenBLASThreads map[string]string `json:"openblas_threads,omitempty"`
}

// twinTime is one row's time in the twin, in milliseconds per step.
type twinTime struct {
	BestMs   float64 `json:"best_ms"`
	MedianMs float64 `json:"median_ms"`
	Rounds   int     `json:"rounds"`
	Ops      int     `json:"ops"`
}

// twinRow is a twin's time of a row (its best thread count) and the
// ratios ours/PyTorch of the best and of the median rounds.
type twinRow struct {
	Twin          string  `json:"twin"`
	Threads       string  `json:"threads"`
	NsPerOp       float64 `json:"ns_per_op"`
	MedianNsPerOp float64 `json:"median_ns_per_op"`
	Ratio         float64 `json:"ratio"`
	MedianRatio   float64 `json:"median_ratio"`
}

// twinStyles returns the styles --twin asks for.
func twinStyles(twin string) ([]string, error) {
	switch twin {
	case "tuned", "plain":
		return []string{twin}, nil
	case "both":
		return []string{"plain", "tuned"}, nil
	}
	return nil, fmt.Errorf("--twin %q is not valid (allowed: tuned, plain, both)", twin)
}

// twinFixture writes the PyTorch twin's inputs for the training and
// imagination rows of rep into dir: each training row's fresh model (the
// same weights as ours), the batch they were timed on, the imagination
// row's model and rows, and every row's round length.
func twinFixture(dir string, fx *benchFixture, rep *benchReport, trainBatch, imagineRows int) error {
	f, err := bench.NewFixture(dir, fx.trainBatch(trainBatch))
	if err != nil {
		return err
	}
	f.SetRounds(benchRounds)
	ops := map[string]int{}
	for _, r := range rep.Rows {
		ops[r.Name] = r.Ops
	}
	for _, dyn := range benchDynamics() {
		mc := fx.cfg.Model
		mc.Dynamics = dyn
		m, err := fx.trainModel(mc)
		if err != nil {
			return err
		}
		if err := f.AddTrain("train/"+dyn, dyn+".dwm", m, ops["train/"+dyn]); err != nil {
			return err
		}
	}
	m, z, act, _, err := fx.imagineInputs(fx.cfg.Model, imagineRows)
	if err != nil {
		return err
	}
	if err := f.SetImagine("imagine/step", "imagine.dwm", m, z, act, imagineRows, ops["imagine/step"]); err != nil {
		return err
	}
	return f.Close()
}

// timeTwins writes the twin's fixture into a temporary directory and runs
// the twin of each style on it.
func timeTwins(ctx context.Context, python string, fx *benchFixture, rep *benchReport, trainBatch, imagineRows int, styles []string, twinArgs string) error {
	dir, err := os.MkdirTemp("", "dream-twin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := twinFixture(dir, fx, rep, trainBatch, imagineRows); err != nil {
		return fmt.Errorf("torch twin: fixture: %w", err)
	}
	return runTwins(ctx, python, dir, styles, twinArgs, rep)
}

// runTwins runs the twin of each style on the fixture in dir and adds its
// times to the rows of rep.
func runTwins(ctx context.Context, python, dir string, styles []string, twinArgs string, rep *benchReport) error {
	script := filepath.Join(dir, "torch_twin.py")
	if err := os.WriteFile(script, []byte(bench.TorchTwin()), 0o644); err != nil {
		return err
	}
	for _, style := range styles {
		args := []string{script, "time", dir, "--style", style, "--threads", "1,2"}
		if style == "tuned" {
			args = append(args, strings.Fields(twinArgs)...)
		}
		tr, err := runTorchTwin(ctx, python, args)
		if err != nil {
			return err
		}
		rep.Twins = append(rep.Twins, tr)
		compareTwin(rep, tr)
	}
	return nil
}

// runTorchTwin runs torch_twin.py and parses its JSON.
func runTorchTwin(ctx context.Context, python string, args []string) (*twinResult, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// glibc gives PyTorch's large tensors back to the system after every
	// step and maps them again at the next, which made its step swing
	// from 25 to 390 ms on the project's machine; raising the thresholds
	// keeps them, as a tuned PyTorch deployment would (a caller's own
	// settings win).
	cmd.Env = os.Environ()
	for _, kv := range []string{"MALLOC_MMAP_THRESHOLD_=1073741824", "MALLOC_TRIM_THRESHOLD_=1073741824"} {
		if _, ok := os.LookupEnv(strings.SplitN(kv, "=", 2)[0]); !ok {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("torch twin: %v: %s", err, firstLineOf(stderr.String()))
	}
	var res twinResult
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return nil, fmt.Errorf("torch twin: read its output: %w", err)
	}
	if res.Twin == "" || res.Version != bench.TwinVersion {
		return nil, fmt.Errorf("torch twin: version %d (%q), dream expects %d", res.Version, res.Twin, bench.TwinVersion)
	}
	return &res, nil
}

// compareTwin adds a twin's best thread count of each row to the row,
// with the ratios of our best and median rounds to its.
func compareTwin(rep *benchReport, tr *twinResult) {
	for i := range rep.Rows {
		r := &rep.Rows[i]
		var best twinTime
		var threads string
		for th, rows := range tr.Threads {
			t, ok := rows[r.Name]
			if ok && t.BestMs > 0 && (best.BestMs == 0 || t.BestMs < best.BestMs || t.BestMs == best.BestMs && th < threads) {
				best, threads = t, th
			}
		}
		if best.BestMs == 0 {
			continue
		}
		row := twinRow{Twin: tr.Twin, Threads: threads, NsPerOp: best.BestMs * 1e6, MedianNsPerOp: best.MedianMs * 1e6}
		row.Ratio = r.NsPerOp / row.NsPerOp
		if r.MedianNsPerOp > 0 && row.MedianNsPerOp > 0 {
			row.MedianRatio = r.MedianNsPerOp / row.MedianNsPerOp
		}
		r.Twins = append(r.Twins, row)
	}
}

// benchDynamics are the dynamics of the training rows.
func benchDynamics() []string {
	return []string{worldmodel.DynamicsGaussian, worldmodel.DynamicsDeterministic, worldmodel.DynamicsMixture}
}
