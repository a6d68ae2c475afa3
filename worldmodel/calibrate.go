package worldmodel

import (
	"math"

	"github.com/dreamrl/dream/worldmodel/loss"
)

// predictGaussian writes the predicted mean, effective log-variance
// log(exp(softBound(raw)) + floor) and factor U of rows (latent, action)
// pairs. logVar and factor are not written for the deterministic model;
// factor is not written when Rank is 0.
func (m *Model) predictGaussian(mean, logVar, factor, z, a []float32, rows int) {
	t := m.trunk(z, a, rows)
	m.meanHead(mean, t, z, rows)
	if m.cfg.Dynamics != DynamicsGaussian {
		return
	}
	if m.cfg.Rank == 0 {
		factor = nil
	}
	m.rawVariance(logVar, factor, t, rows)
	for i, v := range logVar[:rows*m.cfg.LatentDim] {
		logVar[i] = float32(math.Log(m.variance(v)))
	}
}

// Calibration scores the model's one-step predictions on held-out
// transitions: for every valid transition j of batch b (no terminal step
// before it), the prediction from z_j = f_θ(o_j) and a_j is scored against
// the target embedding z̄_{j+1} = f_ξ(o_{j+1}) by loss.Calibrate, or for
// the mixture by loss.CalibrateMixture (held-out NLL −log Σ_m π_m N per
// dimension, coverage from the probability integral transform of each
// dimension's marginal). The deterministic model is scored as a Gaussian
// with unit variance, so all three dynamics share one table. A batch that
// does not fit the model panics.
func (m *Model) Calibration(b *Batch) loss.Calibration {
	if err := m.checkBatch(b); err != nil {
		panic("worldmodel: Calibration: " + err.Error())
	}
	if m.cfg.Dynamics == DynamicsMixture {
		return m.mixtureCalibration(b)
	}
	d, r := m.cfg.LatentDim, m.cfg.Rank
	gauss := m.cfg.Dynamics == DynamicsGaussian
	if !gauss {
		r = 0
	}
	mu := make([]float32, b.B*d)
	lv := make([]float32, b.B*d)
	u := make([]float32, b.B*d*max(r, 1))
	var target, mean, logVar, factor []float64
	m.eachValidRow(b, func(z, a []float32) {
		m.predictGaussian(mu, lv, u, z, a, b.B)
	}, func(bi int, zbar []float32) {
		for _, v := range zbar {
			target = append(target, float64(v))
		}
		for i := bi * d; i < (bi+1)*d; i++ {
			mean = append(mean, float64(mu[i]))
			if gauss {
				logVar = append(logVar, float64(lv[i]))
			}
		}
		for i := bi * d * r; i < (bi+1)*d*r; i++ {
			factor = append(factor, float64(u[i]))
		}
	})
	return loss.Calibrate(target, mean, logVar, factor, d, r)
}

// mixtureCalibration is Calibration for the mixture.
func (m *Model) mixtureCalibration(b *Batch) loss.Calibration {
	d, M := m.cfg.LatentDim, m.cfg.Components
	pi := make([]float32, b.B*M)
	mu := make([]float32, b.B*M*d)
	lv := make([]float32, b.B*M*d)
	var target, weights, mean, logVar []float64
	m.eachValidRow(b, func(z, a []float32) {
		m.predictMixture(pi, mu, lv, z, a, b.B)
	}, func(bi int, zbar []float32) {
		for _, v := range zbar {
			target = append(target, float64(v))
		}
		for _, v := range pi[bi*M : (bi+1)*M] {
			weights = append(weights, float64(v))
		}
		for i := bi * M * d; i < (bi+1)*M*d; i++ {
			mean = append(mean, float64(mu[i]))
			logVar = append(logVar, float64(lv[i]))
		}
	})
	return loss.CalibrateMixture(target, weights, mean, logVar, d, M)
}

// eachValidRow walks the transitions j of batch b: it calls predict once
// per step with the online latents z_j = f_θ(o_j) of all B rows and their
// actions a_j, then take for every row with no terminal step before j,
// with its target embedding z̄_{j+1} = f_ξ(o_{j+1}).
func (m *Model) eachValidRow(b *Batch, predict func(z, a []float32), take func(bi int, zbar []float32)) {
	B, d := b.B, m.cfg.LatentDim
	in, A := m.spec.InputDim(), m.spec.ActionDim
	z := make([]float32, B*d)
	zbar := make([]float32, B*d)
	alive := make([]bool, B)
	for i := range alive {
		alive[i] = true
	}
	for j := 0; j < b.K; j++ {
		m.Encode(z, b.Obs[j*B*in:(j+1)*B*in], B)
		m.encodeWith(m.tenc, zbar, b.Obs[(j+1)*B*in:(j+2)*B*in], B)
		predict(z, b.Actions[j*B*A:(j+1)*B*A])
		for bi := 0; bi < B; bi++ {
			if !alive[bi] {
				continue
			}
			take(bi, zbar[bi*d:(bi+1)*d])
			if b.Terminated[j*B+bi] != 0 {
				alive[bi] = false
			}
		}
	}
}
