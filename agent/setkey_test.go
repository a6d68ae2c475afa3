package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dreamrl/dream/planner"
)

func TestSetKey(t *testing.T) {
	base, err := Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cvar, err := planner.ParseRisk("cvar:0.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, key, value string
		want             func(*Config) // the change expected; nil for an error
		err              []string      // parts of the error
	}{
		{"int", "planner.horizon", "5", func(c *Config) { c.Planner.Horizon = 5 }, nil},
		{"int in model", "model.frame_stack", "1", func(c *Config) { c.Model.FrameStack = 1 }, nil},
		{"float", "explore", "0.10", func(c *Config) { c.Explore = 0.1 }, nil},
		{"float in exponent form", "model.lr", "1e-3", func(c *Config) { c.Model.LR = 0.001 }, nil},
		{"string", "obs", "state", func(c *Config) { c.Obs = "state" }, nil},
		{"risk", "planner.risk", "cvar:0.1", func(c *Config) { c.Planner.Risk = cvar }, nil},
		{"bool", "model.feed_samples", "true", func(c *Config) { c.Model.FeedSamples = true }, nil},
		{"unknown key", "planner.horizn", "3", nil, []string{`unknown key "planner.horizn"`, "planner.horizon"}},
		{"section alone", "model", "3", nil, []string{`unknown key "model"`, "such as model."}},
		{"wrong type", "planner.horizon", "three", nil, []string{`planner.horizon "three" is not valid`, "of type int", "1 or more"}},
		{"fraction for an int", "planner.horizon", "2.5", nil, []string{"number 2.5", "of type int"}},
		{"bad risk", "planner.risk", "cvar:2", nil, []string{`planner.risk "cvar:2"`, "cvar:α"}},
		{"key of a section", "horizon", "3", nil, []string{`unknown key "horizon"`, "such as model.horizon, planner.horizon"}},
		{"empty", "explore", "", nil, []string{`explore "" is not valid: no value`}},
		{"list", "explore", "[1]", nil, []string{"not a single value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SetKey(base, c.key, c.value)
			if c.want == nil {
				if err == nil || !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("SetKey(%s, %q) = %v, want a one-line error wrapping ErrConfig", c.key, c.value, err)
				}
				for _, part := range c.err {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				if !reflect.DeepEqual(got, base) {
					t.Errorf("a refused SetKey changed the config")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			c.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SetKey(%s, %q) changed more or less than the key:\n got %+v\nwant %+v", c.key, c.value, got, want)
			}
		})
	}
}
