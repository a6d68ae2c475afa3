package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// filled returns a frame buffer of capacity 40 that has wrapped, with an
// open episode at its end.
func filled(t testing.TB) *Buffer {
	spec := Spec{FrameShape: [3]int{4, 4, 3}, ActionDim: 2}
	b, err := New(spec, 40)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	frame := make([]uint8, spec.ObsLen())
	act := make([]float32, 2)
	for e := range 12 {
		for i := range frame {
			frame[i] = uint8(rng.IntN(256))
		}
		b.StartEpisode(Obs{Frame: frame})
		n := 1 + rng.IntN(6)
		for s := range n {
			for i := range frame {
				frame[i] = uint8(rng.IntN(256))
			}
			act[0], act[1] = rng.Float32(), -rng.Float32()
			last := s == n-1 && e < 11
			b.Append(act, rng.Float32(), last && s%2 == 0, last && s%2 == 1, Obs{Frame: frame})
		}
	}
	return b
}

func encode(t testing.TB, b *Buffer) []byte {
	var buf bytes.Buffer
	n, err := b.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	b := filled(t)
	path := filepath.Join(t.TempDir(), "replay.bin")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec() != b.Spec() || c.Cap() != b.Cap() || c.Len() != b.Len() || c.Episodes() != b.Episodes() || c.Steps() != b.Steps() {
		t.Fatalf("loaded (spec %+v cap %d len %d episodes %d steps %d), saved (%+v %d %d %d %d)",
			c.Spec(), c.Cap(), c.Len(), c.Episodes(), c.Steps(), b.Spec(), b.Cap(), b.Len(), b.Episodes(), b.Steps())
	}
	for _, kf := range [][2]int{{1, 1}, {3, 1}, {2, 3}} {
		if got, want := c.Sequences(kf[0], kf[1]), b.Sequences(kf[0], kf[1]); got != want {
			t.Errorf("Sequences%v = %d, want %d", kf, got, want)
		}
	}
	// Writing the loaded buffer gives the same bytes; so does continuing
	// both buffers the same way (the open episode and the ring position
	// were restored).
	if !bytes.Equal(encode(t, c), encode(t, b)) {
		t.Fatal("re-encoded buffer differs")
	}
	frame := Obs{Frame: make([]uint8, b.Spec().ObsLen())}
	for _, x := range []*Buffer{b, c} {
		for s := range 50 {
			frame.Frame[0] = uint8(s)
			if s%7 == 0 {
				x.StartEpisode(frame)
			} else {
				x.Append([]float32{float32(s), 1}, float32(s), false, s%7 == 6, frame)
			}
		}
		x.Append([]float32{0, 0}, 0, false, false, frame)
	}
	if !bytes.Equal(encode(t, c), encode(t, b)) {
		t.Fatal("buffers differ after the same appends")
	}

	// ReadFrom into a buffer of the same spec replaces its content.
	d, err := New(b.Spec(), 5)
	if err != nil {
		t.Fatal(err)
	}
	data := encode(t, b)
	n, err := d.ReadFrom(bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || d.Cap() != b.Cap() || d.Len() != b.Len() {
		t.Fatalf("ReadFrom: n %d of %d, err %v, cap %d, len %d", n, len(data), err, d.Cap(), d.Len())
	}
}

func TestRoundTripEmptyAndVectors(t *testing.T) {
	b, err := New(Spec{ObsDim: 3, ActionDim: 1}, 9)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Read(bytes.NewReader(encode(t, b)))
	if err != nil || c.Steps() != 0 || c.Cap() != 9 {
		t.Fatalf("empty buffer: err %v, steps %d, cap %d", err, c.Steps(), c.Cap())
	}
	b.StartEpisode(Obs{Vector: []float32{1, -2, 3.5}})
	b.Append([]float32{0.25}, -1, true, false, Obs{Vector: []float32{4, 5, 6}})
	c, err = Read(bytes.NewReader(encode(t, b)))
	if err != nil {
		t.Fatal(err)
	}
	d := NewBatch(c.Spec(), 1, 1, 1)
	if err := c.Sample(rand.New(rand.NewPCG(1, 1)), d); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.Vectors, d.Actions, d.Rewards, d.Terminated) != "[1 -2 3.5 4 5 6] [0.25] [-1] [1]" {
		t.Errorf("sampled %v %v %v %v", d.Vectors, d.Actions, d.Rewards, d.Terminated)
	}
	// The loaded buffer continues where the saved one stopped.
	for _, x := range []*Buffer{b, c} {
		x.StartEpisode(Obs{Vector: []float32{7, 8, 9}})
		x.Append([]float32{1}, 2, false, false, Obs{Vector: []float32{0, 0, 0}})
	}
	if !bytes.Equal(encode(t, c), encode(t, b)) || c.Len() != 2 || c.Episodes() != 2 {
		t.Errorf("buffers differ after the same appends (len %d, episodes %d)", c.Len(), c.Episodes())
	}
}

func TestLoadRejects(t *testing.T) {
	b := filled(t)
	good := encode(t, b)
	le := binary.LittleEndian
	resum := func(p []byte) []byte { // fix the checksum after an edit
		le.PutUint32(p[len(p)-4:], crc(p[:len(p)-4]))
		return p
	}
	edit := func(f func(p []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated header", good[:20], ErrCorrupt},
		{"truncated data", good[:len(good)/2], ErrCorrupt},
		{"truncated checksum", good[:len(good)-1], ErrCorrupt},
		{"wrong magic", edit(func(p []byte) []byte { p[0] = 'X'; return p }), ErrCorrupt},
		{"other version", edit(func(p []byte) []byte { le.PutUint32(p[8:], 2); return resum(p) }), ErrVersion},
		{"flipped data byte", edit(func(p []byte) []byte { p[len(p)/2] ^= 1; return p }), ErrCorrupt},
		{"flipped checksum", edit(func(p []byte) []byte { p[len(p)-1] ^= 0x80; return p }), ErrCorrupt},
		{"bad spec", edit(func(p []byte) []byte { le.PutUint32(p[12:], 0); return resum(p) }), ErrCorrupt},
		{"huge capacity", edit(func(p []byte) []byte { le.PutUint64(p[32:], 1<<60); return resum(p) }), ErrCorrupt},
		{"more steps than capacity", edit(func(p []byte) []byte { le.PutUint64(p[40:], 41); return resum(p) }), ErrCorrupt},
		{"records out of order", edit(func(p []byte) []byte {
			le.PutUint64(p[headerLen+b.recordLen()+8:], 99) // second step's index
			return resum(p)
		}), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Read(bytes.NewReader(tt.data))
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("Read: %v, %v; want nil and an error wrapping %v", c, err, tt.want)
			}
			path := filepath.Join(t.TempDir(), "r.bin")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); !errors.Is(err, tt.want) {
				t.Errorf("Load: %v, want an error wrapping %v", err, tt.want)
			}
		})
	}

	t.Run("trailing data", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.bin")
		if err := os.WriteFile(path, append(append([]byte(nil), good...), 0), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load: %v, want ErrCorrupt", err)
		}
	})
	t.Run("every truncation and flipped byte", func(t *testing.T) {
		// The header and the first records; the data is checked byte by
		// byte, so a sample of positions stands for the rest.
		for n := 0; n < len(good); n += 1 + n/64 {
			if _, err := Read(bytes.NewReader(good[:n])); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d bytes: %v", n, err)
			}
			p := append([]byte(nil), good...)
			p[n] ^= 0x10
			if _, err := Read(bytes.NewReader(p)); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("byte %d flipped: %v", n, err)
			}
		}
	})
	t.Run("other spec", func(t *testing.T) {
		c, err := New(Spec{FrameShape: [3]int{4, 4, 1}, ActionDim: 2}, 10)
		if err != nil {
			t.Fatal(err)
		}
		c.StartEpisode(Obs{Frame: make([]uint8, 16)})
		if _, err := c.ReadFrom(bytes.NewReader(good)); !errors.Is(err, ErrSpec) {
			t.Fatalf("ReadFrom another spec: %v, want ErrSpec", err)
		}
		if c.Steps() != 1 || c.Cap() != 10 {
			t.Errorf("buffer changed by a failed ReadFrom: steps %d cap %d", c.Steps(), c.Cap())
		}
		if _, err := c.ReadFrom(bytes.NewReader(good[:len(good)-3])); !errors.Is(err, ErrCorrupt) || c.Steps() != 1 {
			t.Errorf("ReadFrom truncated data: %v, steps %d", err, c.Steps())
		}
	})
}

// failWriter fails after n bytes.
type failWriter struct {
	w io.Writer
	n int
}

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errDisk
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestFailedSaveKeepsPreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replay.bin")
	old := filled(t)
	if err := old.Save(path); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := filled(t)
	b.StartEpisode(Obs{Frame: make([]uint8, b.Spec().ObsLen())})
	for _, n := range []int{0, 10, headerLen, 1000, len(want) - 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var into bytes.Buffer
			if _, err := b.WriteTo(&failWriter{&into, n}); !errors.Is(err, errDisk) {
				t.Fatalf("WriteTo: %v, want the writer's error", err)
			}
			err := save(path, func(w io.Writer) (int64, error) { return b.WriteTo(&failWriter{w, n}) })
			if !errors.Is(err, errDisk) {
				t.Fatalf("save: %v, want the writer's error", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("previous file changed (err %v)", err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 1 {
				t.Fatalf("directory holds %v (err %v), want only the saved file", entries, err)
			}
		})
	}
	if err := b.Save(filepath.Join(dir, "missing", "replay.bin")); err == nil {
		t.Error("Save into a missing directory: no error")
	}
}

func crc(p []byte) uint32 { return crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)) }

func FuzzLoad(f *testing.F) {
	good := encode(f, filled(f))
	f.Add(good)
	f.Add(good[:len(good)/3])
	v, err := New(Spec{ObsDim: 2, ActionDim: 1}, 4)
	if err != nil {
		f.Fatal(err)
	}
	v.StartEpisode(Obs{Vector: []float32{1, 2}})
	v.Append([]float32{1}, 1, false, true, Obs{Vector: []float32{3, 4}})
	f.Add(encode(f, v))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(bytes.NewReader(data))
		if err != nil {
			if b != nil {
				t.Fatal("a buffer returned with an error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			return
		}
		// Whatever loads must be usable and encode to the same bytes.
		if out := encode(t, b); !bytes.Equal(out, data[:len(out)]) {
			t.Fatal("re-encoded buffer differs from its input")
		}
		d := NewBatch(b.Spec(), 2, 1, 2)
		if err := b.Sample(rand.New(rand.NewPCG(1, 1)), d); err != nil && !errors.Is(err, ErrEmpty) {
			t.Fatal(err)
		}
	})
}
