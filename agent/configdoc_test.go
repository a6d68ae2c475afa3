package agent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/dreamrl/dream/planner"
)

// TestKeyDocsCoverEveryKey checks that every key of a config file has a
// description and that no description names a key that does not exist.
func TestKeyDocsCoverEveryKey(t *testing.T) {
	c, err := Preset("default")
	if err != nil {
		t.Fatal(err)
	}
	settings := Settings(c.WithDefaults())
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.Path] {
			t.Errorf("key %s listed twice", s.Path)
		}
		seen[s.Path] = true
		if strings.TrimSpace(s.Doc) == "" || strings.Contains(s.Doc, "\n") {
			t.Errorf("key %s: description %q is not one line", s.Path, s.Doc)
		}
	}
	for k := range KeyDocs() {
		if !seen[k] {
			t.Errorf("KeyDocs describes %s, which is not a config key", k)
		}
	}
	// The keys of the config's JSON form, found independently of Settings.
	c.Map, c.Python, c.GymKwargs = "x.map", "python3", "{}" // keys that are left out when empty
	data, err := json.Marshal(c.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var flatten func(m map[string]any, prefix string)
	flatten = func(m map[string]any, prefix string) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(sub, prefix+k+".")
				continue
			}
			if !seen[prefix+k] {
				t.Errorf("config key %s%s is not listed by Settings", prefix, k)
			}
			delete(seen, prefix+k)
		}
	}
	flatten(doc, "")
	for k := range seen {
		t.Errorf("Settings lists %s, which config.json does not hold", k)
	}
}

// TestWriteYAMLRoundTrip writes resolved configs as YAML and reads them
// back over the default preset, as `dream train --config` does: the
// result must be the same config.
func TestWriteYAMLRoundTrip(t *testing.T) {
	cvar, err := planner.ParseRisk("cvar:0.1")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Preset("default")
	if err != nil {
		t.Fatal(err)
	}
	debug, err := Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default", def},
		{"debug", debug},
		{"frozenlake-8x8 state", with(def, func(c *Config) { c.Env, c.Obs = "gridworld/frozenlake-8x8", "state" })},
		{"cartpole mixture", with(def, func(c *Config) { c.Env, c.Model.Dynamics = "physics/cartpole", "mixture" })},
		{"pendulum cvar", with(def, func(c *Config) { c.Env, c.Planner.Risk, c.Seed = "physics/pendulum", cvar, 1<<63+5 })},
		{"map file", with(def, func(c *Config) { c.Env, c.Map = "gridworld", "../testdata/maps/four-rooms.map" })},
		{"odd values", with(debug, func(c *Config) {
			c.Model.LR, c.Model.AdamEps, c.ExploreDirected, c.Model.FeedSamples = 1.5e-4, 1e-12, -1, true
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.cfg.WithDefaults()
			if err := want.Validate(); err != nil {
				t.Fatalf("test config is invalid: %v", err)
			}
			var b bytes.Buffer
			if err := WriteYAML(&b, want); err != nil {
				t.Fatal(err)
			}
			got, err := ParseConfig(b.Bytes(), false, def)
			if err != nil {
				t.Fatalf("reading the YAML back: %v\n%s", err, b.String())
			}
			if got = got.WithDefaults(); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the config:\n got %+v\nwant %+v", got, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if line != "" && !strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.HasSuffix(line, ":") && !strings.Contains(line, ": ") {
					t.Errorf("line %q is neither a comment, a section nor a key", line)
				}
			}
		})
	}
}
