package agent

import (
	"bytes"
	"encoding"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// KeyDocs returns a one-line description of every key of a config file,
// by its dotted path ("steps", "model.dynamics", "planner.risk"): what the
// setting does and the values it allows. The world model's and the
// planner's keys are their packages' own (worldmodel.KeyDocs,
// planner.KeyDocs).
func KeyDocs() map[string]string {
	docs := map[string]string{
		"env":              "environment name (`dream envs` lists them)",
		"map":              "map file of the environment gridworld (format in package envs/gridworld); empty otherwise",
		"python":           "Python interpreter of a gym:ID environment, a name on PATH or a path; empty for python3 on PATH",
		"gym_kwargs":       "keyword arguments of gymnasium.make for a gym:ID environment, a JSON object such as {\"max_episode_steps\": 200}; empty for none",
		"obs":              "what the agent observes: pixels (RGB frames) or state (the state vector)",
		"size":             "side of pixel observations, in pixels; 8 to 256",
		"seed":             "seed every random stream of the run derives from; any unsigned integer",
		"steps":            "environment steps of the whole run; 1 to 100000000",
		"seed_steps":       "first steps, taken with random actions, before the planner acts and training starts; 1 to steps",
		"train_ratio":      "gradient steps per environment step (fractions accumulate); 0 to 64",
		"batch_size":       "sequences per gradient step; 1 to 4096",
		"buffer_size":      "replay capacity, in steps; 100 to 10000000",
		"eval_every":       "environment steps between evaluations; 1 or more",
		"eval_episodes":    "episodes of each evaluation; 1 to 10000",
		"log_every":        "environment steps between rows of metrics.csv; 1 or more",
		"checkpoint_every": "environment steps between checkpoints (one is also written at the end and on Ctrl-C); 1 or more",
		"keep_checkpoints": "newest checkpoints kept; 1 to 1000",
		"explore":          "exploration after seed_steps: the chance of a random action (discrete actions), or action noise as a fraction of the range (continuous); 0 to 1",
		"explore_final":    "exploration once explore_steps have passed (it falls linearly from explore); 0 to 1",
		"explore_steps":    "steps after seed_steps over which exploration and the exploration bonuses decay; 1 or more",
		"explore_bonus":    "β of a count-based bonus β/√n added to the value targets' rewards; 0 (none) to 100",
		"explore_directed": "β of directed exploration: while training, β·U(code, action) is added to the scores of plans' first actions; 0 to 100, -1 for none; discrete actions",
		"explore_discount": "discount of directed exploration's value U; 0 < γ < 1",
		"bonus_bits":       "length of the SimHash codes that count observations for exploration; 1 to 64",
		"lr_final":         "learning rate at the end of the run, as a fraction of model.lr (it falls linearly after seed_steps); 0 < f ≤ 1",
		"snap_latents":     "number of real latents, encoded from replay frames, that each imagined latent of a plan snaps to (the nearest); 0 for none",
		"plan_with":        "what plans are scored on: samples (futures sampled from the predicted distributions), mean (the predicted means) or components (futures that follow a drawn mixture component's mean)",
		"max_bad_steps":    "gradient steps in a row with a NaN or Inf loss or gradient (each skipped) after which the run stops; 1 to 1000000",
	}
	for k, v := range worldmodel.KeyDocs() {
		docs["model."+k] = v
	}
	for k, v := range planner.KeyDocs() {
		docs["planner."+k] = v
	}
	return docs
}

// Setting is one key of a config with its value and description.
type Setting struct {
	// Path is the dotted key, e.g. "model.dynamics".
	Path string
	// Value is the value as a YAML scalar, e.g. gaussian, 0.0003, "".
	Value string
	// Doc is the key's line of KeyDocs.
	Doc string
}

// Settings lists every key of c in the order of the Config struct
// (sections "model" and "planner" after the run's own keys), with its
// value and description. It panics if a key lacks a description, which a
// test of this package rules out.
func Settings(c Config) []Setting {
	docs := KeyDocs()
	var out []Setting
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct && !isText(fv) {
				walk(fv, prefix+name+".")
				continue
			}
			path := prefix + name
			doc, ok := docs[path]
			if !ok {
				panic(fmt.Sprintf("agent: config key %s has no description in KeyDocs", path))
			}
			out = append(out, Setting{Path: path, Value: yamlScalar(fv), Doc: doc})
		}
	}
	walk(reflect.ValueOf(c), "")
	return out
}

func isText(v reflect.Value) bool {
	_, ok := v.Interface().(encoding.TextMarshaler)
	return ok
}

// yamlScalar formats one config value as a YAML scalar that reads back as
// the same value.
func yamlScalar(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err != nil {
			panic(fmt.Sprintf("agent: config value %v: %v", v.Interface(), err))
		}
		return yamlString(string(b))
	}
	switch v.Kind() {
	case reflect.String:
		return yamlString(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float64, reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	panic(fmt.Sprintf("agent: config value of kind %s has no YAML form", v.Kind()))
}

// yamlString quotes s only where YAML would read it as something else.
func yamlString(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("agent: yaml string %q: %v", s, err))
	}
	return strings.TrimSuffix(string(b), "\n")
}

// WriteYAML writes c as a YAML config file that --config reads back to the
// same config, with every key's description as a comment line above it.
func WriteYAML(w io.Writer, c Config) error {
	var b bytes.Buffer
	section := ""
	for _, s := range Settings(c) {
		indent := ""
		if sec, key, ok := strings.Cut(s.Path, "."); ok {
			if sec != section {
				section = sec
				fmt.Fprintf(&b, "\n%s:\n", sec)
			}
			indent = "  "
			s.Path = key
		}
		fmt.Fprintf(&b, "%s# %s\n%s%s: %s\n", indent, s.Doc, indent, s.Path, s.Value)
	}
	_, err := w.Write(b.Bytes())
	return err
}
