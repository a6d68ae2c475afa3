package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/dreamrl/dream/worldmodel"
)

// TwinVersion is the version of torch_twin.py's work (its TWIN_VERSION,
// which it prints and dream checks): it changes when the twin is taught
// other work, so that a ratio names the twin it was measured against
// together with the twin's style ("2-tuned"). Version 1 was the twin of
// the first measurements (README.md): the defaults of its time, passed as
// flags.
const TwinVersion = 2

// Fixture is a directory of inputs for the PyTorch twin (torch_twin.py):
// dream model files, which hold the resolved model config, the input
// spec, the weights with their Adam state and the input statistics, so
// that the twin does the work of whatever config dream resolved; one
// batch as .npy files; and fixture.json, which says what the twin times
// or checks. Write the batch with NewFixture, add models, and Close.
type Fixture struct {
	dir  string
	meta fixtureMeta
}

type fixtureMeta struct {
	Format  int            `json:"format"`
	Batch   fixtureBatch   `json:"batch"`
	Rounds  int            `json:"rounds,omitempty"`
	Train   []fixtureTrain `json:"train,omitempty"`
	Imagine *fixtureImag   `json:"imagine,omitempty"`
	Check   *fixtureCheck  `json:"check,omitempty"`
}

type fixtureBatch struct {
	B          int    `json:"B"`
	K          int    `json:"K"`
	Obs        string `json:"obs"`
	Actions    string `json:"actions"`
	Rewards    string `json:"rewards"`
	Terminated string `json:"terminated"`
}

type fixtureTrain struct {
	Row   string `json:"row"`
	Model string `json:"model"`
	Ops   int    `json:"ops"`
}

type fixtureImag struct {
	Row     string `json:"row"`
	Model   string `json:"model"`
	Z       string `json:"z"`
	Actions string `json:"actions"`
	Ops     int    `json:"ops"`
}

type fixtureCheck struct {
	Model      string        `json:"model"`
	After      string        `json:"after"`
	Directions string        `json:"directions,omitempty"`
	Imagine    *fixtureDraws `json:"imagine,omitempty"`
}

type fixtureDraws struct {
	Model   string `json:"model"`
	Z       string `json:"z"`
	Actions string `json:"actions"`
	Noise   string `json:"noise,omitempty"`
}

// NewFixture makes dir (which may exist) and writes batch b into it.
func NewFixture(dir string, b *worldmodel.Batch) (*Fixture, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: fixture: %w", err)
	}
	f := &Fixture{dir: dir, meta: fixtureMeta{Format: 1}}
	kb := b.K * b.B
	if kb == 0 || len(b.Obs)%((b.K+1)*b.B) != 0 || len(b.Actions)%kb != 0 {
		return nil, fmt.Errorf("bench: fixture: batch of %d obs and %d action values for B %d, K %d", len(b.Obs), len(b.Actions), b.B, b.K)
	}
	if b.Bonus != nil {
		return nil, fmt.Errorf("bench: fixture: the twin has no exploration bonus")
	}
	mb := &f.meta.Batch
	mb.B, mb.K = b.B, b.K
	for _, a := range []struct {
		name *string
		file string
		data []float32
		cols int
	}{
		{&mb.Obs, "obs.npy", b.Obs, len(b.Obs) / ((b.K + 1) * b.B)},
		{&mb.Actions, "actions.npy", b.Actions, len(b.Actions) / kb},
		{&mb.Rewards, "rewards.npy", b.Rewards, 1},
		{&mb.Terminated, "terminated.npy", b.Terminated, 1},
	} {
		if err := f.WriteNPY(a.file, a.data, len(a.data)/a.cols, a.cols); err != nil {
			return nil, err
		}
		*a.name = a.file
	}
	return f, nil
}

// WriteModel writes m as the dream model file name in the fixture.
func (f *Fixture) WriteModel(name string, m *worldmodel.Model) error {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.dir, name), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: fixture: %w", err)
	}
	return nil
}

// AddTrain asks the twin to time training steps of m (written as the file
// model) on the batch, in rounds of ops steps, for the table's row.
func (f *Fixture) AddTrain(row, model string, m *worldmodel.Model, ops int) error {
	if err := f.WriteModel(model, m); err != nil {
		return err
	}
	f.meta.Train = append(f.meta.Train, fixtureTrain{Row: row, Model: model, Ops: max(ops, 1)})
	return nil
}

// SetImagine asks the twin to time sampled imagination steps of m on the
// rows latents z (rows×d) with actions a (rows×A), in rounds of ops steps.
func (f *Fixture) SetImagine(row, model string, m *worldmodel.Model, z, a []float32, rows, ops int) error {
	if err := f.WriteModel(model, m); err != nil {
		return err
	}
	im := &fixtureImag{Row: row, Model: model, Z: "imagine-z.npy", Actions: "imagine-a.npy", Ops: max(ops, 1)}
	if err := f.WriteNPY(im.Z, z, rows, len(z)/rows); err != nil {
		return err
	}
	if err := f.WriteNPY(im.Actions, a, rows, len(a)/rows); err != nil {
		return err
	}
	f.meta.Imagine = im
	return nil
}

// SetCheck asks the twin to take one training step of the model file
// before on the batch with the draws of tr (a trace of dream's step from
// the same weights) and to compare its weights after the step with the
// model file after.
func (f *Fixture) SetCheck(before, after string, tr *worldmodel.StepTrace, d int) error {
	ck := &fixtureCheck{Model: before, After: after}
	if tr.Eps != nil || tr.Eta != nil || tr.MixU != nil {
		return fmt.Errorf("bench: fixture: the twin does not feed samples (feed_samples)")
	}
	if tr.Directions != nil {
		ck.Directions = "directions.npy"
		if err := f.WriteNPY(ck.Directions, tr.Directions, d, len(tr.Directions)/d); err != nil {
			return err
		}
	}
	f.meta.Check = ck
	return nil
}

// SetCheckImagine asks the twin (after SetCheck) to take one sampled
// imagination step of the model file model on the rows latents z (rows×d)
// with actions a (rows×A) and the draws noise that Model.Step takes from
// its generator, row after row (ε, or u then ε for the mixture; nil for
// the deterministic model), and to print the next latents, rewards and
// continuation probabilities.
func (f *Fixture) SetCheckImagine(model string, z, a, noise []float32, rows int) error {
	if f.meta.Check == nil {
		return fmt.Errorf("bench: fixture: SetCheckImagine before SetCheck")
	}
	im := &fixtureDraws{Model: model, Z: "check-z.npy", Actions: "check-a.npy"}
	if err := f.WriteNPY(im.Z, z, rows, len(z)/rows); err != nil {
		return err
	}
	if err := f.WriteNPY(im.Actions, a, rows, len(a)/rows); err != nil {
		return err
	}
	if noise != nil {
		im.Noise = "check-noise.npy"
		if err := f.WriteNPY(im.Noise, noise, rows, len(noise)/rows); err != nil {
			return err
		}
	}
	f.meta.Check.Imagine = im
	return nil
}

// SetRounds sets the number of timed rounds (default 3, as dream's).
func (f *Fixture) SetRounds(n int) { f.meta.Rounds = n }

// Close writes fixture.json.
func (f *Fixture) Close() error {
	if f.meta.Rounds == 0 {
		f.meta.Rounds = 3
	}
	data, err := json.MarshalIndent(f.meta, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.dir, "fixture.json"), data, 0o644); err != nil {
		return fmt.Errorf("bench: fixture: %w", err)
	}
	return nil
}

// WriteNPY writes a rows×cols float32 matrix (row-major) as the NumPy
// file name (format 1.0: magic, a header dict padded to 64 bytes, then
// the little-endian values), which numpy.load reads.
func (f *Fixture) WriteNPY(name string, data []float32, rows, cols int) error {
	if rows*cols != len(data) {
		panic(fmt.Sprintf("bench: WriteNPY %s: %d values for %d×%d", name, len(data), rows, cols))
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	// magic (6) + version (2) + length (2) + header + '\n', a multiple of 64.
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	buf.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(header))))
	buf.WriteString(header)
	out := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	buf.Write(out)
	if err := os.WriteFile(filepath.Join(f.dir, name), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: fixture: %w", err)
	}
	return nil
}
