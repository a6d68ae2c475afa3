package worldmodel

import (
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// flopCounter is a BLAS implementation that counts the floating-point
// operations of the matrix products it passes on: 2·m·n·k for a product
// of an m×k and a k×n matrix, 2·m·n for a matrix-vector product. The
// matrix products are the bulk of a training step's arithmetic; the
// elementwise work beside them (SIGReg's sines and cosines, the
// activations, Adam) is not counted.
type flopCounter struct {
	blas.Float32
	flops atomic.Int64
}

func (f *flopCounter) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	f.flops.Add(2 * int64(m) * int64(n) * int64(k))
	f.Float32.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (f *flopCounter) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	f.flops.Add(2 * int64(m) * int64(n))
	f.Float32.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// countFLOPs routes blas32 through a flopCounter until the benchmark
// ends and returns it. The counter forwards every call, so the model
// computes what it would without it (in pure Go, gemmT then calls
// gonum's Sgemm instead of its own blocked loop).
func countFLOPs(b *testing.B) *flopCounter {
	b.Helper()
	inner := blas32.Implementation()
	f := &flopCounter{Float32: inner}
	blas32.Use(f)
	b.Cleanup(func() { blas32.Use(inner) })
	return f
}

// reportFLOPs reports the counted matrix-product work per operation and
// its rate, after b.N operations timed since the counter was reset.
func reportFLOPs(b *testing.B, f *flopCounter) {
	b.Helper()
	if b.N == 0 || b.Elapsed() == 0 {
		return
	}
	per := float64(f.flops.Load()) / float64(b.N)
	b.ReportMetric(per/1e6, "MFLOP/op")
	b.ReportMetric(per*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
