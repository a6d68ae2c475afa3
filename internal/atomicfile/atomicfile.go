// Package atomicfile writes files so that a reader never sees a partial
// one: the data goes to a temporary file in the same directory, which is
// fsynced, renamed into place, and the directory fsynced.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write produces. If write, a
// flush, the fsync or the rename fails, path keeps its old content.
func Write(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that a rename in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// FailingWriter passes writes through to W until Limit bytes have been
// written, then fails, as a full disk does. Tests use it.
type FailingWriter struct {
	W     io.Writer
	Limit int64
	n     int64
}

// ErrNoSpace is the error a FailingWriter returns.
var ErrNoSpace = &os.PathError{Op: "write", Path: "checkpoint", Err: errNoSpace{}}

type errNoSpace struct{}

func (errNoSpace) Error() string { return "no space left on device" }

// Write implements io.Writer.
func (f *FailingWriter) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) > f.Limit {
		k := int(f.Limit - f.n)
		if k > 0 {
			f.W.Write(p[:k])
			f.n += int64(k)
		}
		return max(k, 0), ErrNoSpace
	}
	n, err := f.W.Write(p)
	f.n += int64(n)
	return n, err
}
