package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gym"
	"github.com/dreamrl/dream/envs/registry"
)

// gymFlags are the values of --python and --gym-kwargs, which choose how
// a Gymnasium environment (--env gym:ID) is made.
type gymFlags struct {
	python, kwargs string
}

// addGymFlags adds --python and --gym-kwargs.
func addGymFlags(f *pflag.FlagSet, g *gymFlags) {
	f.StringVar(&g.python, "python", "", "Python interpreter of a gym:ID environment, with numpy and gymnasium (default: python3 on PATH)")
	f.StringVar(&g.kwargs, "gym-kwargs", "", `keyword arguments of gymnasium.make for a gym:ID environment, as a JSON object such as '{"max_episode_steps": 200}'`)
}

// check checks the flags that set reports as given against the
// environment env.
func (g gymFlags) check(set func(string) bool, env string) error {
	for _, name := range []string{"python", "gym-kwargs"} {
		if set(name) && !strings.HasPrefix(env, gym.Prefix) {
			return fmt.Errorf("--%s applies only to --env %sID, not %q (allowed: --env gym:ID --%s …)", name, gym.Prefix, env, name)
		}
	}
	if set("gym-kwargs") && envs.CheckGymKwargs(g.kwargs) != nil {
		return fmt.Errorf(`--gym-kwargs %q is not valid (allowed: a JSON object such as '{"max_episode_steps": 200}')`, g.kwargs)
	}
	return nil
}

// apply checks the flags as check does and writes them over python and
// kwargs (a run config's).
func (g gymFlags) apply(set func(string) bool, env string, python, kwargs *string) error {
	if err := g.check(set, env); err != nil {
		return err
	}
	if set("python") {
		*python = g.python
		// A path is saved absolute, so that the run resumes from anywhere;
		// a name is looked up on PATH each time.
		if strings.ContainsRune(g.python, filepath.Separator) {
			if abs, err := filepath.Abs(g.python); err == nil {
				*python = abs
			}
		}
	}
	if set("gym-kwargs") {
		*kwargs = g.kwargs
	}
	return nil
}

// knownEnvs lists what --env takes, for error messages.
func knownEnvs() string {
	return strings.Join(registry.Names(), ", ") + ", or " + gym.Prefix + "ID for a Gymnasium environment"
}

// envDirName is an environment name as part of a directory name.
func envDirName(env string) string {
	return strings.NewReplacer("/", "-", ":", "-").Replace(env)
}

// changed reports, for a command's flags, whether a flag was given (no
// flag was if flags is nil, as in tests that build options directly).
func changed(flags *pflag.FlagSet) func(string) bool {
	return func(name string) bool { return flags != nil && flags.Changed(name) }
}

// benchGym times the Gymnasium bridge on gym:id: Env.Step through the
// child with a state observation, then with its 32×32 frame (sent by the
// child, resized in Go). A row's time is the bridge's overhead per step:
// the best round's Go-side round trip less the mean time the child spent
// in the environment (reset, step and, for frames, render), which the
// child measures; the note gives both.
func benchGym(id, python string, budget time.Duration) (rows []benchRow, err error) {
	defer envs.RecoverFailure(&err)
	for _, mode := range []envs.ObsMode{envs.ObsState, envs.ObsPixels} {
		sim, err := gym.New(id, envs.Options{Obs: mode, Python: python})
		if err != nil {
			return nil, err
		}
		defer sim.Close()
		env, err := envs.New(sim, envs.Options{Obs: mode})
		if err != nil {
			return nil, err
		}
		env.Reset(1)
		rng := rand.New(rand.NewPCG(11, 12))
		actions := benchActions(env.ActionSpace(), rng)
		var envTime time.Duration
		i := 0
		row := measure(budget, func() {
			if _, _, term, trunc := env.Step(actions[i%len(actions)]); term || trunc {
				envTime += sim.EnvTime()
				env.Reset(uint64(i))
			}
			envTime += sim.EnvTime()
			i++
		})
		own := float64(envTime.Nanoseconds()) / float64(i)
		row.Note = fmt.Sprintf("round trip %s, of which the environment's own %s", formatNs(row.NsPerOp), formatNs(own))
		row.NsPerOp = max(row.NsPerOp-own, 1)
		row.Name, row.What = "gym/"+string(mode), fmt.Sprintf("bridge overhead per Env.Step, gym:%s, %s", id, mode)
		if mode == envs.ObsPixels {
			row.What += " 32x32"
		}
		rows = append(rows, row)
	}
	return rows, nil
}
