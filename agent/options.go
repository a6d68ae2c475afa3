package agent

import (
	"fmt"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// Option changes how New, Open, OpenTrained and LoadConfig make or read a
// run.
type Option func(*options)

// options is what the Options given to New, Open and LoadConfig set.
type options struct {
	// reg makes the run's environments; nil means the built-ins.
	reg *registry.Registry
}

// WithRegistry makes the run's environments from reg instead of the
// built-in registry: its training environment and those of Evaluate,
// HeldOutCalibration and NewImaginer, and the check of the config's env.
// config.json names the environment only, so a run of an environment
// registered by a program must be opened again (Open, OpenTrained) with a
// registry that holds it. A nil reg means the built-ins.
func WithRegistry(reg *registry.Registry) Option {
	return func(o *options) { o.reg = reg }
}

// resolveOptions applies opts over the defaults.
func resolveOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = registry.Builtin()
	}
	return o
}

// makeEnv makes a fresh environment of the run, as its config asks, from
// the run's registry.
func (r *Run) makeEnv() (envs.Env, error) {
	env, err := r.reg.Make(r.cfg.Env, envs.Options{Obs: envs.ObsMode(r.cfg.Obs), Size: r.cfg.Size, MapFile: r.cfg.Map,
		Python: r.cfg.Python, GymKwargs: r.cfg.GymKwargs})
	if err != nil {
		return nil, fmt.Errorf("env %s: %w", r.cfg.Env, err)
	}
	return env, nil
}
