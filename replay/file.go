package replay

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Constants of the file format documented on WriteTo.
const (
	magic         = "DREAMRPL"
	formatVersion = 1
	headerLen     = 8 + 4 + 5*4 + 5*8 + 1
)

// newCRC returns the file's checksum, CRC-32C (Castagnoli).
func newCRC() hash.Hash32 { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }

func (b *Buffer) recordLen() int {
	n := 8 + 8 + 1 + 4 + 4*b.spec.ActionDim
	if b.spec.Frames() {
		return n + b.obsLen
	}
	return n + 4*b.obsLen
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the buffer to w and returns the number of bytes written.
// Only the steps held are written, oldest first.
//
// The format, all integers and floats little-endian:
//
//	magic     8 bytes  "DREAMRPL"
//	version   uint32   1
//	spec      5×uint32 H, W, C, ObsDim, ActionDim
//	capacity  uint64
//	records   uint64   number of steps held
//	nextEp    uint64   id of the next episode
//	curEp     uint64   id of the episode being written
//	curStep   uint64   its last step index
//	open      uint8    1 if that episode accepts Append
//	records × (episode uint64, step uint64, flags uint8, reward float32,
//	           action ActionDim×float32, observation ObsLen×uint8 or ×float32)
//	           flags: bit 0 terminated, bit 1 truncated, bit 2 a transition
//	           leaves the step (its reward and action are meaningful)
//	checksum  uint32   CRC-32C (Castagnoli) of every byte before it
//
// Records run from the oldest step held to the newest, so a loaded buffer
// holds its steps in slots 0…records−1 in the same order.
func (b *Buffer) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	sum := newCRC()
	out := io.MultiWriter(bw, sum)

	hdr := make([]byte, 0, headerLen)
	hdr = append(hdr, magic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, formatVersion)
	for _, v := range []int{b.spec.FrameShape[0], b.spec.FrameShape[1], b.spec.FrameShape[2], b.spec.ObsDim, b.spec.ActionDim} {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(v))
	}
	for _, v := range []uint64{uint64(b.capacity), uint64(b.used), b.nextEp, b.curEp, b.curStep} {
		hdr = binary.LittleEndian.AppendUint64(hdr, v)
	}
	open := byte(0)
	if b.open {
		open = 1
	}
	hdr = append(hdr, open)
	if _, err := out.Write(hdr); err != nil {
		return cw.n, fmt.Errorf("replay: write header: %w", err)
	}

	rec := make([]byte, b.recordLen())
	first := 0
	if b.used == b.capacity {
		first = b.head
	}
	l, a := b.obsLen, b.spec.ActionDim
	for n := range b.used {
		c, i := b.slot((first + n) % b.capacity)
		p := binary.LittleEndian.AppendUint64(rec[:0], c.ep[i])
		p = binary.LittleEndian.AppendUint64(p, c.step[i])
		p = append(p, c.flags[i])
		p = binary.LittleEndian.AppendUint32(p, math.Float32bits(c.rewards[i]))
		for _, v := range c.actions[i*a : (i+1)*a] {
			p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
		}
		if b.spec.Frames() {
			p = append(p, c.frames[i*l:(i+1)*l]...)
		} else {
			for _, v := range c.vectors[i*l : (i+1)*l] {
				p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
			}
		}
		if _, err := out.Write(p); err != nil {
			return cw.n, fmt.Errorf("replay: write step %d: %w", n, err)
		}
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, sum.Sum32())); err != nil {
		return cw.n, fmt.Errorf("replay: write checksum: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("replay: write: %w", err)
	}
	return cw.n, nil
}

// Save writes the buffer to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, and the directory
// synced. If anything fails, path keeps its previous content.
func (b *Buffer) Save(path string) error {
	return save(path, b.WriteTo)
}

func save(path string, write func(io.Writer) (int64, error)) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("replay: save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("replay: save %s: %w", path, err)
		}
	}()
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if _, err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load reads a buffer saved by Save. A file that is truncated, fails its
// checksum or is not a replay buffer gives an error wrapping ErrCorrupt;
// one of another format version, ErrVersion.
func Load(path string) (*Buffer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: load %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	b, _, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("replay: load %s: %w", path, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("replay: load %s: %w: data after the checksum", path, ErrCorrupt)
	}
	return b, nil
}

// Read reads a buffer written by WriteTo from r, reading no byte past its
// checksum (wrap an unbuffered r in a bufio.Reader for speed). Errors wrap
// ErrCorrupt or ErrVersion as in Load.
func Read(r io.Reader) (*Buffer, error) {
	b, _, err := read(r)
	return b, err
}

// ReadFrom replaces the buffer's content with a buffer written by WriteTo,
// which must have the same Spec (else the error wraps ErrSpec); its
// capacity and episodes are those read. On error the buffer is unchanged.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	nb, n, err := read(r)
	if err != nil {
		return n, err
	}
	if nb.spec != b.spec {
		return n, fmt.Errorf("%w: data has %+v, buffer has %+v", ErrSpec, nb.spec, b.spec)
	}
	abs, absAction := b.absorbing, b.absAction
	*b = *nb
	b.absorbing, b.absAction = abs, absAction
	return n, nil
}

// reader reads exact byte counts, hashing them and counting them.
type reader struct {
	r   io.Reader
	sum hash.Hash32
	n   int64
}

// full fills p; what and i name the part read in an error (i < 0: none).
func (r *reader) full(p []byte, what string, i int) error {
	n, err := io.ReadFull(r.r, p)
	r.n += int64(n)
	r.sum.Write(p[:n])
	if err == nil {
		return nil
	}
	if i >= 0 {
		what = fmt.Sprintf("%s %d", what, i)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated in %s", ErrCorrupt, what)
	}
	return fmt.Errorf("replay: read %s: %w", what, err)
}

func read(src io.Reader) (*Buffer, int64, error) {
	r := &reader{r: src, sum: newCRC()}
	hdr := make([]byte, headerLen)
	if err := r.full(hdr, "header", -1); err != nil {
		return nil, r.n, err
	}
	if string(hdr[:8]) != magic {
		return nil, r.n, fmt.Errorf("%w: not a replay buffer (magic %q)", ErrCorrupt, hdr[:8])
	}
	le := binary.LittleEndian
	if v := le.Uint32(hdr[8:]); v != formatVersion {
		return nil, r.n, fmt.Errorf("%w: version %d (this build reads %d)", ErrVersion, v, formatVersion)
	}
	var dims [5]int
	for i := range dims {
		dims[i] = int(le.Uint32(hdr[12+4*i:]))
	}
	spec := Spec{FrameShape: [3]int{dims[0], dims[1], dims[2]}, ObsDim: dims[3], ActionDim: dims[4]}
	if err := spec.Validate(); err != nil {
		return nil, r.n, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	var u [5]uint64
	for i := range u {
		u[i] = le.Uint64(hdr[32+8*i:])
	}
	capacity, records, nextEp, curEp, curStep := u[0], u[1], u[2], u[3], u[4]
	open := hdr[72]
	switch {
	case capacity < 2 || capacity > MaxCapacity:
		return nil, r.n, fmt.Errorf("%w: capacity %d", ErrCorrupt, capacity)
	case records > capacity:
		return nil, r.n, fmt.Errorf("%w: %d steps in a capacity of %d", ErrCorrupt, records, capacity)
	case open > 1 || (open == 1 && records == 0):
		return nil, r.n, fmt.Errorf("%w: open flag %d with %d steps", ErrCorrupt, open, records)
	}
	b, err := New(spec, int(capacity))
	if err != nil {
		return nil, r.n, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}

	rec := make([]byte, b.recordLen())
	l, a := b.obsLen, spec.ActionDim
	var prevEp, prevStep uint64
	var prevFlags uint8
	for n := range int(records) {
		if err := r.full(rec, "step", n); err != nil {
			return nil, r.n, err
		}
		ep, step, flags := le.Uint64(rec), le.Uint64(rec[8:]), rec[16]
		switch {
		case ep == 0 || ep >= nextEp || flags&^flagMask != 0:
			return nil, r.n, fmt.Errorf("%w: step %d: episode %d, flags %#x", ErrCorrupt, n, ep, flags)
		case flags&(flagTerminated|flagTruncated) != 0 && flags&flagNext == 0:
			return nil, r.n, fmt.Errorf("%w: step %d ends its episode without a transition", ErrCorrupt, n)
		case n > 0 && (prevFlags&flagNext != 0) != (ep == prevEp),
			n > 0 && ep == prevEp && step != prevStep+1,
			n > 0 && ep != prevEp && (ep < prevEp || step != 0),
			ep == prevEp && ended(b, n):
			return nil, r.n, fmt.Errorf("%w: step %d out of order (episode %d step %d after episode %d step %d)", ErrCorrupt, n, ep, step, prevEp, prevStep)
		}
		if ep != prevEp || n == 0 {
			b.episodes++
		}
		if flags&flagNext != 0 {
			b.transitions++
		}
		b.grow(n)
		c, i := b.slot(n)
		c.ep[i], c.step[i], c.flags[i] = ep, step, flags
		c.rewards[i] = math.Float32frombits(le.Uint32(rec[17:]))
		p := rec[21:]
		for j := range a {
			c.actions[i*a+j] = math.Float32frombits(le.Uint32(p[4*j:]))
		}
		p = p[4*a:]
		if spec.Frames() {
			copy(c.frames[i*l:(i+1)*l], p)
		} else {
			for j := range l {
				c.vectors[i*l+j] = math.Float32frombits(le.Uint32(p[4*j:]))
			}
		}
		b.used++
		prevEp, prevStep, prevFlags = ep, step, flags
	}
	if records > 0 && prevFlags&flagNext != 0 {
		return nil, r.n, fmt.Errorf("%w: newest step has a transition", ErrCorrupt)
	}
	if open == 1 && (curEp != prevEp || curStep != prevStep || ended(b, int(records))) {
		return nil, r.n, fmt.Errorf("%w: open episode %d step %d is not the newest step", ErrCorrupt, curEp, curStep)
	}
	want := r.sum.Sum32()
	var tail [4]byte
	n, err := io.ReadFull(r.r, tail[:])
	r.n += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, r.n, fmt.Errorf("%w: truncated in checksum", ErrCorrupt)
	}
	if err != nil {
		return nil, r.n, fmt.Errorf("replay: read checksum: %w", err)
	}
	if got := le.Uint32(tail[:]); got != want {
		return nil, r.n, fmt.Errorf("%w: checksum %08x, data hashes to %08x", ErrCorrupt, got, want)
	}
	b.head = b.used % b.capacity
	b.nextEp, b.curEp, b.curStep, b.open = nextEp, curEp, curStep, open == 1
	return b, r.n, nil
}

// ended reports whether the step in slot n−1 (already read) was reached
// by a terminated or truncated transition, so that its episode cannot
// continue at record n.
func ended(b *Buffer, n int) bool {
	if n < 2 {
		return false
	}
	c, i := b.slot(n - 2)
	cp, ip := b.slot(n - 1)
	return c.ep[i] == cp.ep[ip] && c.flags[i]&(flagTerminated|flagTruncated) != 0 && cp.flags[ip]&flagAbsorbing == 0
}
