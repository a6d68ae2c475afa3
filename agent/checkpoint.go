package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/internal/atomicfile"
	"github.com/dreamrl/dream/worldmodel"
)

// Checkpoint errors a caller branches on.
var (
	// ErrNoCheckpoint reports a run directory without a checkpoint.
	ErrNoCheckpoint = errors.New("no checkpoint")
	// ErrCheckpoint reports a checkpoint that cannot be read: truncated,
	// failing its checksum, of another version or of another run.
	ErrCheckpoint = errors.New("bad checkpoint")
)

// A checkpoint file is
//
//	magic "DREAMCKP" | version uint32 | sections | SHA-256 of all before it
//
// where each section is a 4-byte tag, a uint64 length and that many bytes
// (little-endian): CONF the run's config (JSON), STAT the counters and the
// random streams (JSON), MODL the world model, RPLY the replay buffer.
const (
	ckptMagic   = "DREAMCKP"
	ckptVersion = 1
	ckptExt     = ".ckpt"
	// maxCheckpointBytes bounds what a reader loads.
	maxCheckpointBytes = 8 << 30
)

type ckptState struct {
	Counters counters `json:"counters"`
	Env      []byte   `json:"env_rng"`
	Act      []byte   `json:"act_rng"`
	Train    []byte   `json:"train_rng"`
	// Novelty holds the visit counts of the exploration bonus.
	Novelty *noveltyState `json:"novelty,omitempty"`
	// Directed holds the transition counts of directed exploration.
	Directed *directedState `json:"directed,omitempty"`
}

// checkpointName is the file name of the checkpoint at env step n; the
// zero padding makes names sort by step.
func checkpointName(n int) string { return fmt.Sprintf("ckpt-%010d%s", n, ckptExt) }

// Checkpoints lists a run directory's checkpoint files, oldest first.
func Checkpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(name, "ckpt-") && strings.HasSuffix(name, ckptExt) {
			if _, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "ckpt-"), ckptExt)); err == nil {
				out = append(out, filepath.Join(dir, name))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Checkpoint writes the run's state atomically and removes checkpoints
// beyond KeepCheckpoints. If the write fails, the newest KeepCheckpoints
// older checkpoints are left as they were.
//
// Extra checkpoints left by a process killed between its write and its
// removal are removed before the write, so a run directory never holds
// more than KeepCheckpoints+1 however often the process is killed.
func (r *Run) Checkpoint() error {
	if err := r.pruneCheckpoints(); err != nil {
		return err
	}
	path := filepath.Join(r.dir, checkpointName(r.st.EnvSteps))
	err := atomicfile.Write(path, func(w io.Writer) error {
		if r.FailAfterBytes > 0 {
			w = &atomicfile.FailingWriter{W: w, Limit: r.FailAfterBytes}
		}
		return r.writeCheckpoint(w)
	})
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return r.pruneCheckpoints()
}

// pruneCheckpoints removes the oldest checkpoints beyond KeepCheckpoints.
func (r *Run) pruneCheckpoints() error {
	all, err := Checkpoints(r.dir)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", r.dir, err)
	}
	for len(all) > r.cfg.KeepCheckpoints {
		os.Remove(all[0])
		all = all[1:]
	}
	return nil
}

func (r *Run) writeCheckpoint(w io.Writer) error {
	h := sha256.New()
	mw := io.MultiWriter(w, h)
	if _, err := io.WriteString(mw, ckptMagic); err != nil {
		return err
	}
	if err := binary.Write(mw, binary.LittleEndian, uint32(ckptVersion)); err != nil {
		return err
	}
	conf, err := json.Marshal(r.cfg)
	if err != nil {
		return err
	}
	st := ckptState{Counters: r.st}
	if r.nov != nil {
		st.Novelty = r.nov.state()
	}
	if r.directed != nil {
		st.Directed = r.directed.state()
	}
	if st.Env, err = r.envSrc.MarshalBinary(); err != nil {
		return err
	}
	if st.Act, err = r.actSrc.MarshalBinary(); err != nil {
		return err
	}
	if st.Train, err = r.trainSrc.MarshalBinary(); err != nil {
		return err
	}
	stat, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var model, buf bytes.Buffer
	if _, err := r.model.WriteTo(&model); err != nil {
		return err
	}
	if _, err := r.buf.WriteTo(&buf); err != nil {
		return err
	}
	for _, s := range []struct {
		tag  string
		data []byte
	}{{"CONF", conf}, {"STAT", stat}, {"MODL", model.Bytes()}, {"RPLY", buf.Bytes()}} {
		if _, err := io.WriteString(mw, s.tag); err != nil {
			return err
		}
		if err := binary.Write(mw, binary.LittleEndian, uint64(len(s.data))); err != nil {
			return err
		}
		if _, err := mw.Write(s.data); err != nil {
			return err
		}
	}
	_, err = w.Write(h.Sum(nil))
	return err
}

// VerifyCheckpoint checks that the file at path is a whole checkpoint of
// this format version: its header, its section table and its SHA-256. It
// does not decode the sections. The error wraps ErrCheckpoint and names
// the file.
func VerifyCheckpoint(path string) error {
	_, err := readCheckpoint(path)
	return err
}

// readCheckpoint verifies a checkpoint file and returns its sections.
func readCheckpoint(path string) (map[string][]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
	}
	if info.Size() > maxCheckpointBytes {
		return nil, fmt.Errorf("%w %s: %d bytes is larger than any checkpoint", ErrCheckpoint, path, info.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
	}
	return parseCheckpoint(path, data)
}

// parseCheckpoint verifies the bytes of the checkpoint file path and
// returns its sections, which alias data.
func parseCheckpoint(path string, data []byte) (map[string][]byte, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCheckpoint, path, fmt.Sprintf(format, args...))
	}
	if len(data) < len(ckptMagic)+4+sha256.Size || string(data[:len(ckptMagic)]) != ckptMagic {
		return nil, fail("not a dream checkpoint (bad header or truncated)")
	}
	if v := binary.LittleEndian.Uint32(data[len(ckptMagic):]); v != ckptVersion {
		return nil, fail("format version %d (this dream reads version %d)", v, ckptVersion)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fail("checksum mismatch (the file is truncated or corrupted)")
	}
	sections := map[string][]byte{}
	rest := body[len(ckptMagic)+4:]
	for len(rest) > 0 {
		if len(rest) < 12 {
			return nil, fail("truncated section header")
		}
		tag, n := string(rest[:4]), binary.LittleEndian.Uint64(rest[4:12])
		rest = rest[12:]
		if n > uint64(len(rest)) {
			return nil, fail("section %q longer than the file", tag)
		}
		if _, dup := sections[tag]; dup {
			return nil, fail("section %q appears twice", tag)
		}
		sections[tag], rest = rest[:n], rest[n:]
	}
	for _, tag := range []string{"CONF", "STAT", "MODL", "RPLY"} {
		if sections[tag] == nil {
			return nil, fail("section %s missing", tag)
		}
	}
	return sections, nil
}

// LoadConfig reads a run directory's resolved config and checks it; its
// env must be a built-in one unless an option (WithRegistry) names the
// registry that holds it.
func LoadConfig(dir string, opts ...Option) (Config, error) {
	return loadConfig(dir, resolveOptions(opts))
}

// loadConfig is LoadConfig with the options resolved.
func loadConfig(dir string, o options) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return Config{}, fmt.Errorf("%w %s: no %s: not a dream run directory", ErrRunDir, dir, ConfigFile)
		}
		return Config{}, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, fmt.Errorf("%s: %w: the file is empty", path, ErrConfig)
	}
	cfg, err := ParseConfig(data, true, writtenBefore())
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg = cfg.WithDefaultsIn(o.reg)
	if err := cfg.ValidateIn(o.reg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// writtenBefore is the config that a run's config.json or checkpoint is
// read over: keys added since the run was written, whose defaults now
// depend on the environment, take the values that match what the run
// trained (the others take their defaults, which did not change).
func writtenBefore() Config {
	var c Config
	c.Model.EncoderHidden = -1 // the pixel encoder had no hidden layer
	// Gridworld runs explored ε-randomly, regressed the value on the max
	// over actions, kept their learning rate and acted with the trained
	// weights.
	c.ExploreDirected, c.Model.ValueExpectile, c.LRFinal = -1, -1, 1
	c.Model.AverageTau = -1
	c.Model.QHead = worldmodel.QHeadDirect
	return c
}

// Open loads a run directory from its newest checkpoint, to resume or to
// evaluate it. A directory that holds a config but no checkpoint yet (a
// run stopped before its first checkpoint) opens as a fresh run of that
// config. Open writes nothing: the metrics log is trimmed to the
// checkpoint, and temporary files left by a killed write are removed,
// when Train starts.
//
// The run's environment comes from the built-in registry unless an option
// (WithRegistry) names another: a run created with a registry must be
// opened with one that holds its environment.
func Open(dir string, opts ...Option) (*Run, error) {
	o := resolveOptions(opts)
	cfg, err := loadConfig(dir, o)
	if err != nil {
		return nil, err
	}
	r, err := build(cfg, dir, o.reg)
	if err != nil {
		return nil, err
	}
	ckpts, err := Checkpoints(dir)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	if len(ckpts) == 0 {
		r.model, err = worldmodel.New(cfg.Model, r.spec, rand.New(rand.NewPCG(cfg.Seed, streamModelInit)))
		if err != nil {
			return nil, fmt.Errorf("%w: model: %v", ErrConfig, err)
		}
		if err := r.finish(); err != nil {
			return nil, err
		}
		return r, nil
	}
	path := ckpts[len(ckpts)-1]
	sec, err := readCheckpoint(path)
	if err == nil {
		err = r.restore(path, sec)
	}
	if err != nil {
		if len(ckpts) > 1 {
			return nil, fmt.Errorf("%w; the older checkpoint %s is in the directory: move %s away to resume from it",
				err, filepath.Base(ckpts[len(ckpts)-2]), filepath.Base(path))
		}
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// restore loads the sections of the checkpoint file path into r, which
// build made from the run's config. Every error wraps ErrCheckpoint and
// names the file.
func (r *Run) restore(path string, sec map[string][]byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCheckpoint, path, fmt.Sprintf(format, args...))
	}
	saved := writtenBefore()
	if err := json.Unmarshal(sec["CONF"], &saved); err != nil {
		return fail("config section: %v", err)
	}
	saved.Steps = r.cfg.Steps // the budget may have been raised since
	// A key added after the checkpoint was written holds its default, as
	// it does in config.json when LoadConfig reads it.
	saved = saved.WithDefaultsIn(r.reg)
	if key, saw, want := configDiff(saved, r.cfg); key != "" {
		return fail("written by another run or architecture: %s is %s in the checkpoint and %s in %s", key, saw, want, ConfigFile)
	}
	var st ckptState
	if err := json.Unmarshal(sec["STAT"], &st); err != nil {
		return fail("state section: %v", err)
	}
	c := st.Counters
	for _, v := range []struct {
		name string
		v    float64
	}{{"env_steps", float64(c.EnvSteps)}, {"grad_steps", float64(c.GradSteps)}, {"episodes", float64(c.Episodes)},
		{"skipped_steps", float64(c.SkippedSteps)}, {"bad_in_a_row", float64(c.BadInARow)},
		{"train_debt", c.TrainDebt}, {"wall_seconds", c.WallSeconds}} {
		if !(v.v >= 0 && v.v <= math.MaxFloat64) {
			return fail("state section: %s is %g (allowed: a finite count ≥ 0)", v.name, v.v)
		}
	}
	if n, ok := checkpointStep(path); ok && n != c.EnvSteps {
		return fail("holds env step %d but is named for step %d", c.EnvSteps, n)
	}
	for _, s := range []struct {
		src  *rand.PCG
		data []byte
	}{{r.envSrc, st.Env}, {r.actSrc, st.Act}, {r.trainSrc, st.Train}} {
		if err := s.src.UnmarshalBinary(s.data); err != nil {
			return fail("random state: %v", err)
		}
	}
	if r.nov != nil {
		if err := r.nov.restore(st.Novelty); err != nil {
			return fail("state section: %v", err)
		}
	}
	if r.directed != nil {
		if err := r.directed.restore(st.Directed); err != nil {
			return fail("state section: %v", err)
		}
	}
	r.st = c
	var err error
	r.model, err = worldmodel.New(r.cfg.Model, r.spec, rand.New(rand.NewPCG(r.cfg.Seed, streamModelInit)))
	if err != nil {
		return fmt.Errorf("%w: model: %v", ErrConfig, err)
	}
	if _, err := r.model.ReadFrom(bytes.NewReader(sec["MODL"])); err != nil {
		return fail("model section: %v", err)
	}
	if _, err := r.buf.ReadFrom(bytes.NewReader(sec["RPLY"])); err != nil {
		return fail("replay section: %v", err)
	}
	return nil
}

// checkpointStep is the env step in a checkpoint's file name.
func checkpointStep(path string) (int, bool) {
	name := filepath.Base(path)
	if !strings.HasPrefix(name, "ckpt-") || !strings.HasSuffix(name, ckptExt) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "ckpt-"), ckptExt))
	return n, err == nil
}

// configDiff returns the dotted key of the first setting, in JSON key
// order, in which a differs from b ("model.hidden"), with its value in
// each; key is "" if they are equal.
func configDiff(a, b Config) (key, va, vb string) {
	var ma, mb any
	if err := json.Unmarshal([]byte(mustJSON(a)), &ma); err != nil {
		panic("agent: " + err.Error())
	}
	if err := json.Unmarshal([]byte(mustJSON(b)), &mb); err != nil {
		panic("agent: " + err.Error())
	}
	return jsonDiff("", ma, mb)
}

// jsonDiff returns the dotted key of the first difference between two
// decoded JSON values and both values there.
func jsonDiff(prefix string, a, b any) (key, va, vb string) {
	ma, aok := a.(map[string]any)
	mb, bok := b.(map[string]any)
	if aok && bok {
		keys := make([]string, 0, len(ma)+len(mb))
		for k := range ma {
			keys = append(keys, k)
		}
		for k := range mb {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if key, va, vb = jsonDiff(p, ma[k], mb[k]); key != "" {
				return key, va, vb
			}
		}
		return "", "", ""
	}
	if sa, sb := mustJSON(a), mustJSON(b); sa != sb {
		if prefix == "" {
			prefix = "config"
		}
		return prefix, sa, sb
	}
	return "", "", ""
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("agent: " + err.Error())
	}
	return string(b)
}

// isStrayTemp reports whether name is the temporary file of an atomic
// write of a run's config, metrics or checkpoint that did not finish (the
// process was killed before its rename). Such a file is never read.
func isStrayTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	if !strings.HasPrefix(name, ".") || i < 1 {
		return false
	}
	if _, err := strconv.ParseUint(name[i+len(".tmp"):], 10, 64); err != nil {
		return false
	}
	base := name[1:i]
	_, isCkpt := checkpointStep(base)
	return base == ConfigFile || base == MetricsFile || isCkpt
}

// removeStrayTemps deletes the stray temporary files in dir (see
// isStrayTemp). Only a process that owns the run directory may call it:
// another's write in progress would fail.
func removeStrayTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isStrayTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// openLog prepares the run directory for training: it removes what a
// killed process left behind and opens the metrics log without the rows
// logged after the checkpoint the run resumed from.
func (r *Run) openLog() error {
	if err := removeStrayTemps(r.dir); err != nil {
		return fmt.Errorf("%w %s: %v", ErrRunDir, r.dir, err)
	}
	var err error
	r.log, err = openMetrics(filepath.Join(r.dir, MetricsFile), worldmodel.Metrics{}.Names(), r.st.EnvSteps)
	return err
}

// writeJSONAtomic writes v as indented JSON, atomically.
func writeJSONAtomic(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeFileAtomic is atomicfile.Write.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}
