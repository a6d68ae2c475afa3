package worldmodel

import "math/rand/v2"

// valueTargets writes the value targets of the imagined latents ẑ_j of
// batch b (j < valueSteps, len(dst) rows) into dst and returns their mean
// over the valid rows, as a training step computes them (as returns,
// before any value transform) but on its own: x holds the standardised
// inputs of the batch and zbar the target embeddings of frames 1 … K. A
// training step reads the online latents off its graph (valueTargetOp)
// and builds the n-step returns beside it (startTargets); this makes its
// own encoder pass, for tests of the targets themselves.
func (m *Model) valueTargets(dst []float32, b *Batch, x, zbar, valid []float32, rng *rand.Rand) float64 {
	if m.cfg.ValueTarget == ValueNStep {
		m.nStepReturns(dst, b, zbar, m.cfg.NStep)
	} else {
		rows := len(dst)
		s := grow(&m.buf.z, rows*m.cfg.LatentDim)
		m.encodeStandard(m.enc, s, x, rows)
		m.latentValueTargets(dst, s, b.Actions, rows, rng)
	}
	return validMean(dst, valid)
}
