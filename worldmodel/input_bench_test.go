package worldmodel

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPixelsToInput converts 256 32×32 RGB frames, a training
// batch's worth at B = 64, K = 3.
func BenchmarkPixelsToInput(b *testing.B) {
	const frames, side = 256, 32
	rng := rand.New(rand.NewPCG(1, 2))
	n := side * side * 3
	src := make([]uint8, frames*n)
	for i := range src {
		src[i] = uint8(rng.IntN(256))
	}
	dst := make([]float32, frames*n)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		for f := 0; f < frames; f++ {
			PixelsToInput(dst[f*n:(f+1)*n], src[f*n:(f+1)*n], 1, side, side)
		}
	}
}

// BenchmarkPatchify standardises and cuts 256 32×32 frames into 4×4
// patches, the encoder's input for a training batch at B = 64, K = 3.
func BenchmarkPatchify(b *testing.B) {
	const rows = 256
	m, batch := benchModel(b, DynamicsGaussian, true, rows/4)
	m.updateNorm(batch)
	dst := make([]float32, rows*m.standardLen())
	b.ReportAllocs()
	b.SetBytes(int64(4 * rows * m.spec.InputDim()))
	for b.Loop() {
		m.patchify(dst, batch.Obs, rows)
	}
}
