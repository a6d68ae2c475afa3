// Package runplot draws the metrics.csv of one or more run directories
// (written by dream train) against environment steps: the evaluation
// return with its 95% interval as a band, the success rate where the
// environment has a goal, and the world model's main losses, one colour
// per run. `dream plot` is its command line; `dream compare` draws the
// means over seeds of a comparison instead (agent/compare).
package runplot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dreamrl/dream/agent"
)

// ErrMixedEnvs reports runs of different environments, whose returns
// cannot share an axis.
var ErrMixedEnvs = errors.New("runs of different environments")

// Run is what the picture needs from a run directory.
type Run struct {
	// Dir is the run directory as given.
	Dir string
	// Label names the run in the legend (see SetLabels).
	Label string
	// Env, Map, Dynamics and Seed come from the run's config.json.
	Env, Map, Dynamics string
	Seed               uint64
	// Metrics is the run's metrics.csv.
	Metrics *Metrics
}

// runConfig is the part of config.json a picture needs. It is read on
// its own rather than through agent.LoadConfig, which also checks that
// the environment and its map file still exist: a run is worth drawing
// after its map has moved.
type runConfig struct {
	Env   string `json:"env"`
	Map   string `json:"map"`
	Seed  uint64 `json:"seed"`
	Model struct {
		Dynamics string `json:"dynamics"`
	} `json:"model"`
}

// Load reads the config.json and metrics.csv of run directory dir. Its
// errors wrap agent.ErrRunDir.
func Load(dir string) (Run, error) {
	run := Run{Dir: dir, Label: filepath.Base(filepath.Clean(dir))}
	data, err := os.ReadFile(filepath.Join(dir, agent.ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return run, fmt.Errorf("%w %s: no %s: not a dream run directory", agent.ErrRunDir, dir, agent.ConfigFile)
	}
	if err != nil {
		return run, fmt.Errorf("%w %s: %v", agent.ErrRunDir, dir, err)
	}
	var cfg runConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return run, fmt.Errorf("%w %s: %s: %v", agent.ErrRunDir, dir, agent.ConfigFile, err)
	}
	if cfg.Env == "" {
		return run, fmt.Errorf("%w %s: %s names no env", agent.ErrRunDir, dir, agent.ConfigFile)
	}
	run.Env, run.Map, run.Dynamics, run.Seed = cfg.Env, cfg.Map, cfg.Model.Dynamics, cfg.Seed
	f, err := os.Open(filepath.Join(dir, agent.MetricsFile))
	if errors.Is(err, os.ErrNotExist) {
		return run, fmt.Errorf("%w %s: no %s: not a dream run directory", agent.ErrRunDir, dir, agent.MetricsFile)
	}
	if err != nil {
		return run, fmt.Errorf("%w %s: %v", agent.ErrRunDir, dir, err)
	}
	defer f.Close()
	if run.Metrics, err = ReadMetrics(f); err != nil {
		return run, fmt.Errorf("%w %s: %s: %v", agent.ErrRunDir, dir, agent.MetricsFile, err)
	}
	return run, nil
}

// EnvName names the run's environment: its env, and its map file for a
// gridworld read from a map.
func (r Run) EnvName() string {
	if r.Map == "" {
		return r.Env
	}
	return r.Env + " with map " + filepath.Clean(r.Map)
}

// SameEnv returns an error wrapping ErrMixedEnvs that names the first two
// runs of different environments, nil if all share one.
func SameEnv(runs []Run) error {
	for _, r := range runs[min(1, len(runs)):] {
		if r.EnvName() != runs[0].EnvName() {
			return fmt.Errorf("%w: %s is %s, %s is %s", ErrMixedEnvs, runs[0].Dir, runs[0].EnvName(), r.Dir, r.EnvName())
		}
	}
	return nil
}

// SetLabels names each run in the legend by its directory's base name;
// runs that share a base name (seed-0/run and seed-1/run) add their
// dynamics and seed, and runs that still share a label use their
// directory as given.
func SetLabels(runs []Run) {
	count := func(label func(Run) string) map[string]int {
		n := map[string]int{}
		for _, r := range runs {
			n[label(r)]++
		}
		return n
	}
	base := func(r Run) string { return filepath.Base(filepath.Clean(r.Dir)) }
	nBase := count(base)
	detailed := func(r Run) string {
		if nBase[base(r)] == 1 {
			return base(r)
		}
		return base(r) + " (" + r.Dynamics + ", seed " + strconv.FormatUint(r.Seed, 10) + ")"
	}
	n := count(detailed)
	for i, r := range runs {
		if n[detailed(r)] == 1 {
			runs[i].Label = detailed(r)
		} else {
			runs[i].Label = filepath.Clean(r.Dir)
		}
	}
}
