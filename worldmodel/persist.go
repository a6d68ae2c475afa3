package worldmodel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Sentinel errors of Load and ReadFrom.
var (
	// ErrCorrupt reports a file that is truncated, fails its checksum or
	// does not parse.
	ErrCorrupt = errors.New("worldmodel: corrupt model file")
	// ErrVersion reports a file of another format version.
	ErrVersion = errors.New("worldmodel: unsupported model file version")
	// ErrArchitecture reports a file whose config or spec gives other
	// shapes than the model it is loaded into.
	ErrArchitecture = errors.New("worldmodel: model file of another architecture")
)

// File format, little-endian:
//
//	magic      8 bytes "dreamwm\x00"
//	version    uint32 (formatVersion)
//	config     uint32 length + JSON
//	spec       uint32 length + JSON
//	steps      int64 (Adam steps)
//	input norm int64 frame count, float64 sum of squares, uint32 n and n
//	           float64 sums (see inputNorm)
//	params     uint32 count, then per param: uint16 name length, name,
//	           uint32 rows, uint32 cols, rows·cols float32 weights, and for
//	           trained params the Adam moments m and v (rows·cols each)
//	checksum   uint32 CRC-32 (IEEE) of everything before it
const (
	fileMagic     = "dreamwm\x00"
	formatVersion = 1
	maxFileSize   = 1 << 32
)

// WriteTo writes the whole model (config, spec, weights, target weights,
// Adam state and step count, mean image) to w in the format above.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	le := binary.LittleEndian
	put32 := func(v uint32) { buf.Write(le.AppendUint32(nil, v)) }
	put64 := func(v uint64) { buf.Write(le.AppendUint64(nil, v)) }
	blob := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("worldmodel: marshal %T: %v", v, err))
		}
		put32(uint32(len(b)))
		buf.Write(b)
	}
	floats := func(s []float32) {
		out := make([]byte, 4*len(s))
		for i, v := range s {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
		buf.Write(out)
	}
	buf.WriteString(fileMagic)
	put32(formatVersion)
	blob(m.cfg)
	blob(m.spec)
	put64(uint64(m.steps))
	put64(uint64(m.norm.count))
	put64(math.Float64bits(m.norm.sumSq))
	put32(uint32(len(m.norm.sum)))
	for _, v := range m.norm.sum {
		put64(math.Float64bits(v))
	}
	put32(uint32(len(m.params)))
	for _, p := range m.params {
		buf.Write(le.AppendUint16(nil, uint16(len(p.name))))
		buf.WriteString(p.name)
		put32(uint32(p.rows))
		put32(uint32(p.cols))
		floats(p.data)
		if p.trained {
			floats(p.m)
			floats(p.v)
		}
	}
	put32(crc32.ChecksumIEEE(buf.Bytes()))
	n, err := w.Write(buf.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("worldmodel: write model: %w", err)
	}
	return int64(n), nil
}

// Save writes the model to path atomically: into a temporary file in the
// same directory, synced, then renamed over path, and the directory
// synced.
func (m *Model) Save(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("worldmodel: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = m.WriteTo(f); err != nil {
		return fmt.Errorf("worldmodel: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("worldmodel: save %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("worldmodel: save %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("worldmodel: save %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return fmt.Errorf("worldmodel: save %s: sync directory: %w", path, derr)
		}
	}
	return nil
}

// Load reads a model saved by Save or WriteTo; its config and spec come
// from the file.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("worldmodel: load %s: %w", path, err)
	}
	m, err := decodeModel(data, nil)
	if err != nil {
		return nil, fmt.Errorf("worldmodel: load %s: %w", path, err)
	}
	return m, nil
}

// ReadFrom replaces the model's whole state (config included) with a model
// read from r. The file must describe the same architecture (the same
// spec and the same network shapes), or the error wraps ErrArchitecture;
// on any error the model is unchanged.
func (m *Model) ReadFrom(r io.Reader) (int64, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize))
	n := int64(len(data))
	if err != nil {
		return n, fmt.Errorf("worldmodel: read model: %w", err)
	}
	loaded, err := decodeModel(data, m)
	if err != nil {
		return n, fmt.Errorf("worldmodel: read model: %w", err)
	}
	m.cfg = loaded.cfg
	m.expLo, m.expHi = loaded.expLo, loaded.expHi
	m.steps = loaded.steps
	m.norm = loaded.norm
	for i, p := range m.params {
		q := loaded.params[i]
		copy(p.data, q.data)
		copy(p.m, q.m)
		copy(p.v, q.v)
	}
	m.dropGraph() // the graph bakes in config constants
	return n, nil
}

// architecture is what fixes the shapes of a model's tensors.
type architecture struct {
	Dynamics                                 string
	LatentDim, Hidden, Patch, Channels, Rank int
	Components                               int // 1 unless the dynamics is a mixture
	FrameStack, DecoderHidden                int
	EncoderHidden                            int  // 0 without the layer
	ActionValue                              bool // the q head (value_target q)
	Averaged                                 bool // the Polyak average (average_tau)
	Advantage                                bool // q = V + A (q_head advantage)
	OwnQ                                     bool // q's own network (q_net own)
	Quantiles                                int  // quantiles of the distributional action value (q_quantiles)
	Spec                                     Spec
}

func (m *Model) architecture() architecture {
	c := m.cfg
	return architecture{c.Dynamics, c.LatentDim, c.Hidden, c.Patch, c.Channels, c.Rank, m.components(), c.FrameStack, c.DecoderHidden,
		max(c.EncoderHidden, 0), c.ValueTarget == ValueQ, c.averaged(), c.QHead == QHeadAdvantage, c.QNet == QNetOwn, max(c.QQuantiles, 0), m.spec}
}

// reader reads little-endian values from a byte slice; after the first
// short read every value is zero and err is set.
type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() uint16 {
	if b := r.next(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.next(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) floats(dst []float32) {
	b := r.next(4 * len(dst))
	if b == nil {
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// decodeModel parses a model file. When into is not nil, the file must
// have into's architecture.
func decodeModel(data []byte, into *Model) (*Model, error) {
	if len(data) < len(fileMagic)+8 {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrCorrupt, len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return nil, fmt.Errorf("%w: not a model file (bad magic)", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(data[len(fileMagic):]); v != formatVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrVersion, v, formatVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or altered)", ErrCorrupt)
	}
	r := &reader{b: body[len(fileMagic)+4:]}
	var cfg Config
	var spec Spec
	for _, v := range []any{&cfg, &spec} {
		blob := r.next(int(r.u32()))
		if r.err != nil {
			return nil, r.err
		}
		if err := json.Unmarshal(blob, v); err != nil {
			return nil, fmt.Errorf("%w: %T: %v", ErrCorrupt, v, err)
		}
	}
	// Count before allocating, so that a config asking for huge tensors
	// in a short file costs nothing.
	dry, err := newModel(cfg, spec, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if into != nil && dry.architecture() != into.architecture() {
		return nil, fmt.Errorf("%w: file has %+v, model has %+v", ErrArchitecture, dry.architecture(), into.architecture())
	}
	if int64(len(r.b)) < dry.dryBytes {
		return nil, fmt.Errorf("%w: %d bytes left for tensors of %d bytes", ErrCorrupt, len(r.b), dry.dryBytes)
	}
	m, err := newModel(cfg, spec, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m.steps = int64(r.u64())
	m.norm.count = int64(r.u64())
	m.norm.sumSq = math.Float64frombits(r.u64())
	if n := r.u32(); r.err == nil && int(n) != len(m.norm.sum) {
		return nil, fmt.Errorf("%w: mean image of %d values, want %d", ErrCorrupt, n, len(m.norm.sum))
	}
	for i := range m.norm.sum {
		m.norm.sum[i] = math.Float64frombits(r.u64())
	}
	if n := r.u32(); r.err == nil && int(n) != len(m.params) {
		return nil, fmt.Errorf("%w: %d tensors, want %d", ErrCorrupt, n, len(m.params))
	}
	for _, p := range m.params {
		name := string(r.next(int(r.u16())))
		rows, cols := int(r.u32()), int(r.u32())
		if r.err != nil {
			return nil, r.err
		}
		if name != p.name || rows != p.rows || cols != p.cols {
			return nil, fmt.Errorf("%w: tensor %q %d×%d, want %q %d×%d", ErrCorrupt, name, rows, cols, p.name, p.rows, p.cols)
		}
		r.floats(p.data)
		if p.trained {
			r.floats(p.m)
			r.floats(p.v)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	if m.steps < 0 || m.norm.count < 0 || math.IsNaN(m.norm.sumSq) {
		return nil, fmt.Errorf("%w: bad counts", ErrCorrupt)
	}
	// A checksum proves the file is what was written, not that what was
	// written is usable: a model with a NaN or infinite weight (or Adam
	// moment) would only produce NaNs.
	for _, p := range m.params {
		for _, s := range [][]float32{p.data, p.m, p.v} {
			for i, v := range s {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("%w: tensor %q has a non-finite value (%g at %d)", ErrCorrupt, p.name, v, i)
				}
			}
		}
	}
	for _, v := range m.norm.sum {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: mean image has a non-finite value", ErrCorrupt)
		}
	}
	m.norm.refresh()
	return m, nil
}
