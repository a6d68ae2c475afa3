// Package registry makes environments from their names.
//
// A Registry maps names to environments. Builtin returns one that holds
// dream's built-in environments; a program adds its own with Register and
// hands the registry to the agent (agent.WithRegistry), so that a run of
// its environment trains, evaluates and resumes like a built-in one:
//
//	reg := registry.Builtin()
//	err := reg.Register(registry.Entry{Name: "custom/corridor", Description: "…", New: newCorridor})
//
// Names are "family/name": gridworld/frozenlake-4x4, physics/cartpole, and
// so on; the name "gridworld" alone takes a map file (Options.MapFile) in
// the format documented in package gridworld. The package-level Lookup,
// Make, Names and Entries read the built-ins.
//
// Every registry also knows the names "gym:ID", resolved before its own:
// the Gymnasium environment ID, made by gymnasium.make in a Python child
// process (package envs/gym; Options.Python and Options.GymKwargs apply
// to it only). They are not listed by Names and Entries.
package registry

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/gym"
	"github.com/dreamrl/dream/envs/physics"
)

// Errors a caller branches on.
var (
	// ErrUnknown reports an environment name that is not registered.
	ErrUnknown = errors.New("unknown environment")
	// ErrEntry reports an entry that Register cannot add.
	ErrEntry = errors.New("bad environment entry")
)

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
	// New makes the simulator. Make wraps it with envs.New, which applies
	// the observation mode and size, so New reads only what the
	// simulator itself needs (the gridworld's MapFile).
	New func(opts envs.Options) (envs.Simulator, error)
	// Traits, when set, tells what the simulator New would make declares
	// (envs.TraitsOf) without making it. When nil, Registry.Traits makes
	// one simulator per name and options to read them, and remembers the
	// answer.
	Traits func(opts envs.Options) (envs.Traits, error)
}

// Registry maps environment names to entries. The zero value is not
// usable; make one with New or Builtin. A Registry is not safe for
// concurrent Register calls; once filled it may be read concurrently.
type Registry struct {
	entries map[string]Entry

	mu     sync.Mutex
	traits map[traitsKey]traitsAnswer // what Traits read by making a simulator
}

type traitsKey struct {
	name string
	opts envs.Options
}

type traitsAnswer struct {
	t   envs.Traits
	err error
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{entries: map[string]Entry{}, traits: map[traitsKey]traitsAnswer{}}
}

// Builtin returns a new registry that holds dream's built-in environments.
// Each call returns a registry of its own, so entries a program registers
// reach only the registry it registered them in.
func Builtin() *Registry {
	r := New()
	for _, e := range builtins() {
		if err := r.Register(e); err != nil {
			panic(err) // a built-in entry is malformed: a programmer error
		}
	}
	return r
}

// Register adds an entry. Its name is one or more parts separated by '/',
// each of letters, digits, '-', '_' and '.' and starting with a letter or
// a digit ("custom/corridor"); it must not be registered already, and New
// must not be nil. The errors wrap ErrEntry and name the entry.
func (r *Registry) Register(e Entry) error {
	if e.Name == "" {
		return fmt.Errorf("%w: empty name (allowed: %s)", ErrEntry, allowedNames)
	}
	if !validName(e.Name) {
		return fmt.Errorf("%w: name %q is malformed (allowed: %s)", ErrEntry, e.Name, allowedNames)
	}
	if _, ok := r.entries[e.Name]; ok {
		return fmt.Errorf("%w: name %q is already registered (allowed: a name not yet registered)", ErrEntry, e.Name)
	}
	if e.New == nil {
		return fmt.Errorf("%w %q: no New function (allowed: a function that makes the simulator)", ErrEntry, e.Name)
	}
	r.entries[e.Name] = e
	return nil
}

// allowedNames describes the names Register accepts.
const allowedNames = `parts separated by '/', each of letters, digits, '-', '_' and '.' starting with a letter or digit, e.g. "custom/corridor"`

// validName reports whether name is parts separated by '/', each a letter
// or digit followed by letters, digits, '-', '_' and '.'. Names appear in
// flags, metrics and run-directory names, so they hold no spaces, no
// empty parts and no "..".
func validName(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || !alnum(rune(part[0])) {
			return false
		}
		for _, c := range part {
			if !alnum(c) && c != '-' && c != '_' && c != '.' {
				return false
			}
		}
	}
	return true
}

func alnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Entries returns every registered environment, sorted by name.
func (r *Registry) Entries() []Entry {
	es := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es
}

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	ns := make([]string, 0, len(r.entries))
	for n := range r.entries {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Lookup returns the entry of the given name; an unknown name is an error
// wrapping ErrUnknown that lists the known ones. A name "gym:ID" is the
// entry of a Gymnasium environment if ID has the form of one (whether
// Gymnasium knows it shows when it is made).
func (r *Registry) Lookup(name string) (Entry, error) {
	if id, ok := strings.CutPrefix(name, gym.Prefix); ok {
		return gymEntry(name, id)
	}
	if e, ok := r.entries[name]; ok {
		return e, nil
	}
	return Entry{}, fmt.Errorf("%w %q (known: %s, or %sID for a Gymnasium environment)", ErrUnknown, name, strings.Join(r.Names(), ", "), gym.Prefix)
}

// gymEntry is the entry of the Gymnasium environment id.
func gymEntry(name, id string) (Entry, error) {
	if !gym.ValidID(id) {
		return Entry{}, fmt.Errorf("%w %q (allowed after %q: %s)", ErrUnknown, name, gym.Prefix, gym.AllowedIDs)
	}
	return Entry{
		Name:        name,
		Description: "Gymnasium " + id + " in a Python child process",
		New: func(opts envs.Options) (envs.Simulator, error) {
			if opts.MapFile != "" {
				return nil, fmt.Errorf("%w: --map applies only to the environment \"gridworld\"", envs.ErrOptions)
			}
			return gym.New(id, opts)
		},
	}, nil
}

// noGymOptions refuses the options of Gymnasium environments for another
// environment.
func noGymOptions(opts envs.Options) error {
	if opts.Python != "" || opts.GymKwargs != "" {
		return fmt.Errorf("%w: --python and --gym-kwargs apply only to %sID environments", envs.ErrOptions, gym.Prefix)
	}
	return nil
}

// Make builds the named environment with the given options.
func (r *Registry) Make(name string, opts envs.Options) (envs.Env, error) {
	e, err := r.Lookup(name)
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
	if sim == nil {
		return nil, fmt.Errorf("registry: environment %q: New returned no simulator and no error", name)
	}
	return envs.New(sim, opts)
}

// Traits returns what the named environment, made with opts, declares
// (envs.TraitsOf). An entry's Traits answers where it has one (the
// built-ins do: a gridworld reads its map file). Otherwise the registry
// makes the simulator once per name and options, lets it go and
// remembers the answer; a Gymnasium environment is asked once per process
// (gym.Declared).
func (r *Registry) Traits(name string, opts envs.Options) (envs.Traits, error) {
	if id, ok := strings.CutPrefix(name, gym.Prefix); ok {
		if !gym.ValidID(id) {
			_, err := gymEntry(name, id)
			return envs.Traits{}, err
		}
		return gym.Declared(id, opts)
	}
	e, err := r.Lookup(name)
	if err != nil {
		return envs.Traits{}, err
	}
	if e.Traits != nil {
		return e.Traits(opts)
	}
	key := traitsKey{name, envs.Options{MapFile: opts.MapFile, Python: opts.Python, GymKwargs: opts.GymKwargs}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.traits[key]; ok {
		return a.t, a.err
	}
	a := traitsOfNew(name, e, opts)
	r.traits[key] = a
	return a.t, a.err
}

// traitsOfNew makes e's simulator to read what it declares.
func traitsOfNew(name string, e Entry, opts envs.Options) traitsAnswer {
	sim, err := e.New(opts)
	if err != nil {
		return traitsAnswer{err: err}
	}
	if sim == nil {
		return traitsAnswer{err: fmt.Errorf("registry: environment %q: New returned no simulator and no error", name)}
	}
	a := traitsAnswer{t: envs.TraitsOf(sim)}
	if c, ok := sim.(io.Closer); ok {
		a.err = c.Close()
	}
	return a
}

// Entries returns every built-in environment, sorted by name.
func Entries() []Entry { return Builtin().Entries() }

// Lookup returns the built-in entry of the given name.
func Lookup(name string) (Entry, error) { return Builtin().Lookup(name) }

// Names lists the built-in names, sorted.
func Names() []string { return Builtin().Names() }

// Make builds the named built-in environment with the given options.
func Make(name string, opts envs.Options) (envs.Env, error) {
	return Builtin().Make(name, opts)
}

// builtins lists dream's built-in environments.
func builtins() []Entry {
	fixed := func(f func() envs.Simulator) func(envs.Options) (envs.Simulator, error) {
		return func(opts envs.Options) (envs.Simulator, error) {
			if opts.MapFile != "" {
				return nil, fmt.Errorf("%w: --map applies only to the environment \"gridworld\"", envs.ErrOptions)
			}
			if err := noGymOptions(opts); err != nil {
				return nil, err
			}
			return f(), nil
		}
	}
	// The built-ins are cheap to make: their traits are read from one.
	made := func(e Entry) func(envs.Options) (envs.Traits, error) {
		return func(opts envs.Options) (envs.Traits, error) {
			a := traitsOfNew(e.Name, e, opts)
			return a.t, a.err
		}
	}
	entries := []Entry{
		{Name: "gridworld", Description: "a gridworld read from a map file (--map FILE; format in README)", Stochastic: true, Success: true,
			New: func(opts envs.Options) (envs.Simulator, error) {
				if opts.MapFile == "" {
					return nil, fmt.Errorf("%w: environment \"gridworld\" needs a map file (--map FILE)", envs.ErrOptions)
				}
				if err := noGymOptions(opts); err != nil {
					return nil, err
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
	for i := range entries {
		entries[i].Traits = made(entries[i])
	}
	return entries
}
