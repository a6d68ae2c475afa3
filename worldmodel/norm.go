package worldmodel

import "math"

// minInputScale bounds the input scale s from below, so that the first
// frames of an environment that barely change (all frames equal at reset)
// do not blow the inputs up by more than 1/minInputScale.
const minInputScale = 0.02

// inputNorm standardises the encoder's inputs with statistics of the first
// training frames:
//
//	x̃ = (x − m)/s,   m_i = (1/n) Σ_t x_ti,   s² = (1/U) Σ_i [(1/n) Σ_t x_ti² − m_i²]
//
// where x_t are the first n observations seen in training (n ≤
// MeanImageFrames, each of the F stacked observations of a row counts),
// i runs over the U values of one observation, m is the mean image and s²
// the mean per-value variance, floored at minInputScale². Frames that
// differ only in a small square (a gridworld's agent) are mostly equal to
// the mean image, so subtracting it and rescaling what is left keeps their
// embeddings from starting as one point (DESIGN.md, "Start-up collapse").
type inputNorm struct {
	mean  []float32 // m, one observation
	inv   float32   // 1/s
	sum   []float64 // Σ_t x_ti
	sumSq float64   // Σ_t Σ_i x_ti²
	count int64     // n

	// The statistics before the last add, to undo it.
	prevSum   []float64
	prevSumSq float64
	prevCount int64
}

func newInputNorm(unit int) inputNorm {
	return inputNorm{mean: make([]float32, unit), inv: 1, sum: make([]float64, unit)}
}

// add adds observations (each of len(mean) values) until limit have been
// seen; limit ≤ 0 disables the standardisation.
func (n *inputNorm) add(obs []float32, limit int64) {
	if limit <= 0 || n.count >= limit {
		return
	}
	n.prevSum = append(n.prevSum[:0], n.sum...)
	n.prevSumSq, n.prevCount = n.sumSq, n.count
	unit := len(n.mean)
	for off := 0; off+unit <= len(obs) && n.count < limit; off += unit {
		for i, v := range obs[off : off+unit] {
			x := float64(v)
			n.sum[i] += x
			n.sumSq += x * x
		}
		n.count++
	}
	n.refresh()
}

// undo restores the statistics before the last add.
func (n *inputNorm) undo() {
	if n.prevCount == n.count {
		return
	}
	copy(n.sum, n.prevSum)
	n.sumSq, n.count = n.prevSumSq, n.prevCount
	n.refresh()
}

// refresh recomputes the mean image and the scale from the sums.
func (n *inputNorm) refresh() {
	if n.count == 0 {
		clear(n.mean)
		n.inv = 1
		return
	}
	c := float64(n.count)
	varSum := n.sumSq / c
	for i, s := range n.sum {
		mu := s / c
		n.mean[i] = float32(mu)
		varSum -= mu * mu
	}
	scale := math.Sqrt(math.Max(varSum/float64(len(n.mean)), 0))
	n.inv = float32(1 / math.Max(scale, minInputScale))
}

// updateNorm adds the observations of the batch's first frames to the
// input statistics.
func (m *Model) updateNorm(b *Batch) {
	m.norm.add(b.Obs[:b.B*m.spec.InputDim()], int64(m.cfg.MeanImageFrames))
}
