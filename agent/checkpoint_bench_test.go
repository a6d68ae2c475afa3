package agent

import (
	"os"
	"testing"
)

// BenchmarkCheckpoint times what reliability costs: an atomic checkpoint
// write (temporary file, fsync, rename, directory fsync), its
// verification, and opening the run from it, for a debug-preset run
// holding 200 pixel steps.
func BenchmarkCheckpoint(b *testing.B) {
	run, dir := trained(b, "gridworld/frozenlake-4x4", 200, nil)
	ck, err := Checkpoints(dir)
	if err != nil || len(ck) == 0 {
		b.Fatalf("no checkpoint: %v", err)
	}
	path := ck[len(ck)-1]
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(info.Size())
		for b.Loop() {
			if err := run.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(info.Size())
		for b.Loop() {
			if err := VerifyCheckpoint(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Open(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
