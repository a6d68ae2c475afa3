package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// beyond KeepCheckpoints. If the write fails, the older checkpoints are
// left as they were.
func (r *Run) Checkpoint() error {
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

// readCheckpoint verifies a checkpoint file and returns its sections.
func readCheckpoint(path string) (map[string][]byte, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCheckpoint, path, fmt.Sprintf(format, args...))
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
	}
	if info.Size() > maxCheckpointBytes {
		return nil, fail("%d bytes is larger than any checkpoint", info.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
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
		sections[tag], rest = rest[:n], rest[n:]
	}
	for _, tag := range []string{"CONF", "STAT", "MODL", "RPLY"} {
		if sections[tag] == nil {
			return nil, fail("section %s missing", tag)
		}
	}
	return sections, nil
}

// LoadConfig reads a run directory's resolved config.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return Config{}, fmt.Errorf("%w %s: no %s: not a dream run directory", ErrRunDir, dir, ConfigFile)
		}
		return Config{}, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	cfg, err := ParseConfig(data, true, Config{})
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Open loads a run directory from its newest checkpoint, to resume or to
// evaluate it. A directory that holds a config but no checkpoint yet (a
// run stopped before its first checkpoint) opens as a fresh run of that
// config.
func Open(dir string) (*Run, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	r, err := build(cfg, dir)
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
		r.log, err = openMetrics(filepath.Join(dir, MetricsFile), worldmodel.Metrics{}.Names(), 0)
		return r, err
	}
	path := ckpts[len(ckpts)-1]
	sec, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	var saved Config
	if err := json.Unmarshal(sec["CONF"], &saved); err != nil {
		return nil, fmt.Errorf("%w %s: config section: %v", ErrCheckpoint, path, err)
	}
	saved.Steps = cfg.Steps // the budget may have been raised since
	if a, b := mustJSON(saved), mustJSON(cfg); a != b {
		return nil, fmt.Errorf("%w %s: written by another run (its config differs from %s)", ErrCheckpoint, path, ConfigFile)
	}
	var st ckptState
	if err := json.Unmarshal(sec["STAT"], &st); err != nil {
		return nil, fmt.Errorf("%w %s: state section: %v", ErrCheckpoint, path, err)
	}
	for _, s := range []struct {
		src  *rand.PCG
		data []byte
	}{{r.envSrc, st.Env}, {r.actSrc, st.Act}, {r.trainSrc, st.Train}} {
		if err := s.src.UnmarshalBinary(s.data); err != nil {
			return nil, fmt.Errorf("%w %s: random state: %v", ErrCheckpoint, path, err)
		}
	}
	r.st = st.Counters
	r.model, err = worldmodel.New(cfg.Model, r.spec, rand.New(rand.NewPCG(cfg.Seed, streamModelInit)))
	if err != nil {
		return nil, fmt.Errorf("%w: model: %v", ErrConfig, err)
	}
	if _, err := r.model.ReadFrom(bytes.NewReader(sec["MODL"])); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
	}
	if _, err := r.buf.ReadFrom(bytes.NewReader(sec["RPLY"])); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCheckpoint, path, err)
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	r.log, err = openMetrics(filepath.Join(dir, MetricsFile), worldmodel.Metrics{}.Names(), r.st.EnvSteps)
	return r, err
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("agent: " + err.Error())
	}
	return string(b)
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
