package fastblas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BenchmarkSgemm compares gonum's pure-Go Sgemm with the loaded
// library's on the shapes of a world model's layers: rows × in → out.
func BenchmarkSgemm(b *testing.B) {
	lib := mustLoad(b)
	impls := []struct {
		name string
		impl blas.Float32
	}{{"gonum", gonum.Implementation{}}, {"library", lib.Implementation()}}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{512, 128, 128}, {512, 32, 128}, {256, 256, 256}, {64, 64, 64}} {
		m, k, n := s[0], s[1], s[2]
		x, w, y := randSlice[float32](rng, m*k), randSlice[float32](rng, k*n), make([]float32, m*n)
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", im.name, m, k, n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(4 * (m*k + k*n + m*n)))
				for b.Loop() {
					im.impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, w, n, 0, y, n)
				}
				b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
