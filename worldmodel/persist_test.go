package worldmodel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// predictions runs every inference method on fixed inputs.
func predictions(m *Model, b *Batch) [][]float32 {
	rows, d := b.B, m.cfg.LatentDim
	z := make([]float32, rows*d)
	m.Encode(z, b.Obs, rows)
	next, reward, cont := make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
	m.Step(next, reward, cont, z, b.Actions, rows, true, rand.New(rand.NewPCG(1, 1)))
	mean, variance := make([]float32, rows*d), make([]float32, rows*d)
	m.Predict(mean, variance, z, b.Actions, rows)
	value := make([]float32, rows)
	m.Value(value, z, rows)
	frames := make([]float32, rows*m.decodeDim())
	m.Decode(frames, z, rows)
	out := [][]float32{z, next, reward, cont, mean, variance, value, frames}
	if M := m.QuantileCount(); M > 0 {
		quants := make([]float32, rows*M)
		m.ActionValueQuantiles(quants, z, b.Actions, rows)
		out = append(out, quants)
	}
	return out
}

func TestSaveLoad(t *testing.T) {
	cases := []struct {
		pixels bool
		mod    func(*Config)
	}{
		{false, func(c *Config) { c.Rank = 2 }},
		{true, func(c *Config) { c.Rank = 2 }},
		{true, func(c *Config) { c.EncoderHidden = 16; c.ValueTarget = ValueQ }},
		{false, func(c *Config) { c.Dynamics, c.Components, c.FeedSamples = DynamicsMixture, 4, true }},
		{false, func(c *Config) { c.ValueTarget, c.AverageTau = ValueQ, 0.9 }},
		{false, func(c *Config) { c.ValueTarget, c.QHead = ValueQ, QHeadAdvantage }},
		{false, func(c *Config) { c.ValueTarget, c.QHead, c.QNet, c.AverageTau = ValueQ, QHeadAdvantage, QNetOwn, 0.9 }},
		{false, func(c *Config) { c.ValueTarget, c.QQuantiles, c.QQuantileKappa, c.AverageTau = ValueQ, 6, 0.1, 0.9 }},
	}
	for _, tc := range cases {
		pixels := tc.pixels
		rng := rand.New(rand.NewPCG(1, 2))
		m, batch := testModel(t, tc.mod, pixels, 3, rng)
		b := batch(6, m.cfg.Horizon)
		path := filepath.Join(t.TempDir(), "model.dwm")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Config() != m.Config() || got.Spec() != m.Spec() || got.Steps() != m.Steps() {
			t.Fatalf("loaded %v, steps %d; saved %v, steps %d", got, got.Steps(), m, m.Steps())
		}
		want := predictions(m, b)
		for i, p := range predictions(got, b) {
			if !slices.Equal(p, want[i]) {
				t.Fatalf("%v: prediction %d differs after loading", m, i)
			}
		}
		// Training resumes exactly: the same batches and seed give the
		// same weights, Adam state and statistics.
		r1, r2 := rand.New(rand.NewPCG(5, 5)), rand.New(rand.NewPCG(5, 5))
		for i := 0; i < 2; i++ {
			if _, err := m.TrainStep(b, r1); err != nil {
				t.Fatal(err)
			}
			if _, err := got.TrainStep(b, r2); err != nil {
				t.Fatal(err)
			}
		}
		if !sameSnapshot(snapshot(m), snapshot(got)) {
			t.Fatalf("%v: training after loading differs", m)
		}
		// No temporary file is left behind.
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries after Save, want 1", len(entries))
		}
	}
}

func TestLoadRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, _ := testModel(t, nil, false, 1, rng)
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d", n, err, buf.Len())
	}
	file := buf.Bytes()
	flip := func(i int) []byte {
		b := slices.Clone(file)
		b[i] ^= 0x10
		return b
	}
	other := func(mod func(*Config)) []byte {
		o, _ := testModel(t, mod, false, 0, rand.New(rand.NewPCG(3, 3)))
		var b bytes.Buffer
		if _, err := o.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	version := slices.Clone(file)
	binary.LittleEndian.PutUint32(version[len(fileMagic):], formatVersion+1)
	// A NaN weight under a valid checksum: the model as the file says.
	nan := func() []byte {
		o, _ := testModel(t, nil, false, 0, rand.New(rand.NewPCG(3, 3)))
		o.val.l1.w.data[3] = float32(math.NaN())
		var b bytes.Buffer
		if _, err := o.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"bad magic", flip(0), ErrCorrupt},
		{"other version", version, ErrVersion},
		{"flipped config byte", flip(20), ErrCorrupt},
		{"flipped weight byte", flip(len(file) / 2), ErrCorrupt},
		{"flipped checksum byte", flip(len(file) - 1), ErrCorrupt},
		{"truncated header", file[:10], ErrCorrupt},
		{"truncated half", file[:len(file)/2], ErrCorrupt},
		{"truncated checksum", file[:len(file)-1], ErrCorrupt},
		{"NaN weight", nan, ErrCorrupt},
		{"wider latent", other(func(c *Config) { c.LatentDim = 16 }), ErrArchitecture},
		{"deterministic", other(func(c *Config) { c.Dynamics = DynamicsDeterministic }), ErrArchitecture},
		{"mixture", other(func(c *Config) { c.Dynamics = DynamicsMixture }), ErrArchitecture},
		{"action value head", other(func(c *Config) { c.ValueTarget = ValueQ }), ErrArchitecture},
		{"averaged weights", other(func(c *Config) { c.AverageTau = 0.99 }), ErrArchitecture},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(m)
			_, err := m.ReadFrom(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadFrom = %v, want %v", err, tc.want)
			}
			if !sameSnapshot(before, snapshot(m)) {
				t.Fatal("a rejected file changed the model")
			}
			path := filepath.Join(t.TempDir(), "bad.dwm")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); tc.want != ErrArchitecture && !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, want %v", err, tc.want)
			}
		})
	}
	// A pixel encoder with a hidden layer is another architecture, both
	// ways; −1 and 0 are the same (none).
	pix := func(hidden int) *Model {
		o, _ := testModel(t, func(c *Config) { c.EncoderHidden = hidden }, true, 0, rand.New(rand.NewPCG(3, 3)))
		return o
	}
	for _, c := range []struct{ file, into, ok int }{{8, 0, 0}, {0, 8, 0}, {8, 16, 0}, {-1, 0, 1}, {8, 8, 1}} {
		var b bytes.Buffer
		if _, err := pix(c.file).WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		into := pix(c.into)
		_, err := into.ReadFrom(&b)
		if c.ok == 1 && err != nil || c.ok == 0 && !errors.Is(err, ErrArchitecture) {
			t.Errorf("encoder_hidden %d into %d: ReadFrom = %v", c.file, c.into, err)
		}
	}
	// A file of the same architecture with other hyperparameters loads,
	// and brings its config along.
	lr := other(func(c *Config) { c.LR = 0.5 })
	if _, err := m.ReadFrom(bytes.NewReader(lr)); err != nil || m.Config().LR != 0.5 {
		t.Errorf("ReadFrom of another learning rate = %v, lr %g", err, m.Config().LR)
	}
	// A mixture of another number of components is another architecture;
	// other mixture options are hyperparameters.
	mix, _ := testModel(t, func(c *Config) { c.Dynamics = DynamicsMixture }, false, 0, rand.New(rand.NewPCG(4, 4)))
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"five components", func(c *Config) { c.Dynamics, c.Components = DynamicsMixture, 5 }, ErrArchitecture},
		{"gaussian", nil, ErrArchitecture},
		{"other floor", func(c *Config) { c.Dynamics, c.MixtureFloor, c.MixtureEntropy = DynamicsMixture, -1, 0.2 }, nil},
	} {
		if _, err := mix.ReadFrom(bytes.NewReader(other(tc.mod))); !errors.Is(err, tc.want) {
			t.Errorf("mixture model, ReadFrom of %s = %v, want %v", tc.name, err, tc.want)
		}
	}
	if c := mix.Config(); c.MixtureFloor != -1 || c.MixtureEntropy != 0.2 {
		t.Errorf("mixture options %g, %g after loading, want -1, 0.2", c.MixtureFloor, c.MixtureEntropy)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.dwm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

// FuzzReadFrom feeds arbitrary bytes to ReadFrom: it must return an error
// or a model, never panic.
func FuzzReadFrom(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, _ := testModel(f, nil, false, 1, rng)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:100])
	f.Add([]byte(fileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		into, _ := testModel(t, nil, false, 0, rand.New(rand.NewPCG(1, 1)))
		if _, err := into.ReadFrom(bytes.NewReader(data)); err == nil {
			if err := into.Config().Validate(); err != nil {
				t.Fatalf("loaded an invalid config: %v", err)
			}
		}
	})
}
