// Package registry makes dream's built-in environments from their names.
//
// Names are "family/name": gridworld/frozenlake-4x4, physics/cartpole, and
// so on; the name "gridworld" alone takes a map file (Options.MapFile) in
// the format documented in package gridworld.
package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/physics"
)

// ErrUnknown reports an environment name that is not registered.
var ErrUnknown = errors.New("unknown environment")

// Entry describes one registered environment.
type Entry struct {
	// Name is the registry name, e.g. "gridworld/frozenlake-4x4".
	Name string
	// Description is one line for `dream envs`.
	Description string
	// Stochastic tells whether the dynamics are random given the action.
	Stochastic bool
	// Success tells whether an episode can be counted as a success
	// (reaching a goal), so that a success rate is reported.
	Success bool
	// New makes the simulator.
	New func(opts envs.Options) (envs.Simulator, error)
}

// Entries returns every registered environment, sorted by name.
func Entries() []Entry {
	fixed := func(f func() envs.Simulator) func(envs.Options) (envs.Simulator, error) {
		return func(opts envs.Options) (envs.Simulator, error) {
			if opts.MapFile != "" {
				return nil, fmt.Errorf("%w: --map applies only to the environment \"gridworld\"", envs.ErrOptions)
			}
			return f(), nil
		}
	}
	es := []Entry{
		{Name: "gridworld", Description: "a gridworld read from a map file (--map FILE; format in README)", Stochastic: true, Success: true,
			New: func(opts envs.Options) (envs.Simulator, error) {
				if opts.MapFile == "" {
					return nil, fmt.Errorf("%w: environment \"gridworld\" needs a map file (--map FILE)", envs.ErrOptions)
				}
				m, err := gridworld.LoadMap(opts.MapFile)
				if err != nil {
					return nil, err
				}
				return gridworld.New(m), nil
			}},
		{Name: "gridworld/frozenlake-4x4", Description: "Gymnasium FrozenLake-v1 4x4, slippery: the move goes sideways with probability 2/3", Stochastic: true, Success: true,
			New: fixed(func() envs.Simulator { return gridworld.FrozenLake4x4() })},
		{Name: "gridworld/frozenlake-8x8", Description: "Gymnasium FrozenLake-v1 8x8, slippery, 200-step limit", Stochastic: true, Success: true,
			New: fixed(func() envs.Simulator { return gridworld.FrozenLake8x8() })},
		{Name: "gridworld/windy", Description: "Sutton & Barto's windy gridworld with stochastic wind (Exercise 6.10), -1 per step", Stochastic: true, Success: true,
			New: fixed(func() envs.Simulator { return gridworld.Windy() })},
		{Name: "gridworld/cliff-ice", Description: "a short route over slippery ice beside holes, or a longer safe detour", Stochastic: true, Success: true,
			New: fixed(func() envs.Simulator { return gridworld.CliffIce() })},
		{Name: "physics/cartpole", Description: "Gymnasium CartPole-v1: balance a pole on a cart, +1 per step, 500-step limit",
			New: fixed(func() envs.Simulator { return physics.NewCartPole() })},
		{Name: "physics/pendulum", Description: "Gymnasium Pendulum-v1: swing up and hold a pendulum with torque in [-2, 2]",
			New: fixed(func() envs.Simulator { return physics.NewPendulum() })},
		{Name: "physics/acrobot", Description: "Gymnasium Acrobot-v1: swing the tip of a two-link arm above the line, -1 per step, 500-step limit",
			New: fixed(func() envs.Simulator { return physics.NewAcrobot() })},
		{Name: "physics/mountaincar", Description: "Gymnasium MountainCar-v0: drive an underpowered car up the hill, -1 per step, 200-step limit",
			New: fixed(func() envs.Simulator { return physics.NewMountainCar() })},
		{Name: "physics/pendulum-gusty", Description: "Pendulum-v1 with random torque gusts (stochastic dynamics)", Stochastic: true,
			New: fixed(func() envs.Simulator { return physics.NewPendulumGusty() })},
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es
}

// Lookup returns the entry of the given name.
func Lookup(name string) (Entry, error) {
	for _, e := range Entries() {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Names lists the registered names, sorted.
func Names() []string {
	var ns []string
	for _, e := range Entries() {
		ns = append(ns, e.Name)
	}
	return ns
}

// Make builds the named environment with the given options.
func Make(name string, opts envs.Options) (envs.Env, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sim, err := e.New(opts)
	if err != nil {
		return nil, err
	}
	return envs.New(sim, opts)
}
