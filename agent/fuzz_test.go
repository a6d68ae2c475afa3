package agent

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs/registry"
)

// fuzzConfig is a small run whose checkpoints are a few kilobytes, so
// that the fuzzer mutates every section often.
func fuzzConfig(c *Config) {
	c.Env, c.Obs = "physics/cartpole", "state"
	c.BufferSize, c.BatchSize = 100, 4
	c.Model.Hidden, c.Model.LatentDim, c.Model.DecoderHidden = 8, 4, 8
}

// FuzzReadCheckpoint feeds arbitrary bytes to the checkpoint reader and
// the decoders of its sections, once as they are and once with their last
// 32 bytes replaced by a valid SHA-256, so that mutations inside the
// sections get past the checksum. Nothing may panic; every error wraps
// ErrCheckpoint and is one line; a checkpoint that restores is a usable
// run.
func FuzzReadCheckpoint(f *testing.F) {
	run, dir := trained(f, "physics/cartpole", 40, fuzzConfig)
	ck, err := Checkpoints(dir)
	if err != nil || len(ck) == 0 {
		f.Fatalf("no checkpoint: %v", err)
	}
	good, err := os.ReadFile(ck[len(ck)-1])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:len(ckptMagic)+4])
	f.Add([]byte(ckptMagic))
	cfg := run.Config()
	f.Fuzz(func(t *testing.T, data []byte) {
		body := data[:max(len(data)-sha256.Size, 0)]
		sum := sha256.Sum256(body)
		resigned := append(append([]byte(nil), body...), sum[:]...)
		for _, d := range [][]byte{data, resigned} {
			sec, err := parseCheckpoint("fuzz.ckpt", d)
			if err != nil {
				if !errors.Is(err, ErrCheckpoint) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("parse: %q", err)
				}
				continue
			}
			r, err := build(cfg, dir, registry.Builtin())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.restore("fuzz.ckpt", sec); err != nil {
				if !errors.Is(err, ErrCheckpoint) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("restore: %q", err)
				}
				continue
			}
			if err := r.finish(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.model.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
			if r.buf.Sequences(r.batch.K, r.batch.F) > 0 {
				if err := r.buf.Sample(rand.New(rand.NewPCG(1, 2)), r.batch); err != nil {
					t.Fatalf("sample from a restored buffer: %v", err)
				}
			}
		}
	})
}

// FuzzParseConfig feeds arbitrary YAML and JSON to ParseConfig. Nothing
// may panic; errors wrap ErrConfig and are one line; a config that parses
// survives Validate and round-trips through JSON.
func FuzzParseConfig(f *testing.F) {
	debug, err := Preset("debug")
	if err != nil {
		f.Fatal(err)
	}
	j, err := json.Marshal(debug.WithDefaults())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(j, true)
	f.Add([]byte("env: physics/cartpole\nsteps: 123\nmodel:\n  dynamics: deterministic\n  hidden: 32\nplanner:\n  risk: cvar:0.2\n"), false)
	f.Add([]byte("steps: many\n"), false)
	f.Add([]byte("model: [1, 2]\n"), false)
	f.Add([]byte("explore: .nan\n"), false)
	f.Add([]byte("a: &x [*x]\n"), false)
	f.Add([]byte(`{"env": "gridworld", "map": "x.map", "seed": 18446744073709551615}`), true)
	f.Add([]byte(`{"steps": 1e400}`), true)
	f.Add([]byte("{}{}"), true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		c, err := ParseConfig(data, isJSON, debug)
		if err != nil {
			if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseConfig: %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil && (!errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("Validate: %q", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a parsed config does not marshal: %v", err)
		}
		back, err := ParseConfig(out, true, Config{})
		if err != nil {
			t.Fatalf("a parsed config does not parse back: %v\n%s", err, out)
		}
		if again, _ := json.Marshal(back); string(again) != string(out) {
			t.Fatalf("round trip changed the config:\n%s\n%s", out, again)
		}
	})
}
