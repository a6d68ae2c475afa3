package worldmodel

import (
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
)

// quantileNet is the network of the distributional action value
// (Config.QQuantiles), of q_net own's shape with M outputs:
//
//	θ(z, a) = relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂)·W₃ + b₃ ∈ R^M
//
// θ_i(z, a) is the quantile at τ_i = (2i − 1)/(2M) of the return of
// taking a in z (in the value space, as the other values). It has a
// network of its own, not a head on the predictor's trunk, so that its
// EMA target copy (Model.tquant), which bootstraps its targets as the
// target value bootstraps q's, is a whole network.
type quantileNet struct {
	inZ, inA, hidden, out linear
}

// newQuantileNet makes the layers of a quantile network of M = n outputs
// on latents of d values and actions of a, with hidden width h.
func newQuantileNet(lin func(name string, in, out int, bias, trained bool) linear, prefix string, d, a, h, n int, trained bool) quantileNet {
	return quantileNet{
		inZ:    lin(prefix+".in_z", d, h, true, trained),
		inA:    lin(prefix+".in_a", a, h, false, trained),
		hidden: lin(prefix+".hidden", h, h, true, trained),
		out:    lin(prefix+".out", h, n, true, trained),
	}
}

// on reports whether the network exists (q_quantiles above 0).
func (q quantileNet) on() bool { return q.out.w != nil }

// copyFrom sets q's weights to src's.
func (q quantileNet) copyFrom(src quantileNet) {
	copyLinear(q.inZ, src.inZ)
	copyLinear(q.inA, src.inA)
	copyLinear(q.hidden, src.hidden)
	copyLinear(q.out, src.out)
}

// ema moves q's weights towards src's: q ← τq + (1−τ)src.
func (q quantileNet) ema(src quantileNet, tau float32) {
	emaLinear(q.inZ, src.inZ, tau)
	emaLinear(q.inA, src.inA, tau)
	emaLinear(q.hidden, src.hidden, tau)
	emaLinear(q.out, src.out, tau)
}

// graphQuantiles is the quantile network on latents z and actions a in
// the training graph (B×M, in the value space).
func graphQuantiles(b graphBuilder, q quantileNet, z, a *G.Node) *G.Node {
	return b.affine(graphHidden(b, z, a, q.inZ, q.inA, q.hidden), q.out, false)
}

// QuantileCount is the number M of quantiles of the distributional action
// value (Config.QQuantiles), 0 for a model without one. It implements the
// planner's QuantileValuer.
func (m *Model) QuantileCount() int {
	if !m.pred.quant.on() {
		return 0
	}
	return m.cfg.QQuantiles
}

// ActionValueQuantiles writes the learned quantiles of the return of
// rows (latent, action) pairs into dst (rows×M, M = QuantileCount(), row
// after row, ascending within a row): θ_1(z, a) ≤ … ≤ θ_M(z, a)
// estimate the quantiles at τ_i = (2i − 1)/(2M) of
//
//	G(z, a) = r + γ(1−d) G(z', a*),   a* = argmax_b E[G(z', b)],
//
// the return of taking a in z and then acting greedily on the
// distribution's mean, so that each θ_i stands for a mass of 1/M and
// their mean for q(z, a). They regress their targets by QR-DQN's quantile
// Huber loss (Dabney et al. 2018; loss.QuantileHuber) on the latents q
// trains on, with the logged actions, against the distributional
// one-step returns of the replay transitions,
//
//	y_j = r + γ(1−d) θ̄_j(z̄', a*),   a* = argmax_b (1/M) Σ_j θ̄_j(z̄', b),
//
// where θ̄ is the network's EMA target copy (the rate of the target
// value, ema_tau) and z̄' the next frame's target embedding: q's own
// bootstrap V̄(z̄') with the target value's distribution in its place
// (for continuous actions a* is the best of value_candidates random
// actions). The network's outputs may cross; sorting them within a row
// (the monotone rearrangement of Chernozhukov et al. 2010) only brings
// the estimates nearer the true quantiles. Under value_transform symlog
// the network regresses symlog(y), whose quantiles are the symlog of the
// returns' (symlog is increasing), and the outputs are read through
// symexp.
//
// It allocates nothing once its buffers have grown to rows, and panics
// when the model has no quantiles (QuantileCount() == 0).
func (m *Model) ActionValueQuantiles(dst, z, a []float32, rows int) {
	M := m.QuantileCount()
	if M == 0 {
		panic("worldmodel: ActionValueQuantiles on a model without quantiles (q_quantiles is 0)")
	}
	checkLen("ActionValueQuantiles", "z", z, rows*m.cfg.LatentDim)
	checkLen("ActionValueQuantiles", "a", a, rows*m.spec.ActionDim)
	checkLen("ActionValueQuantiles", "dst", dst, rows*M)
	m.quantiles(m.pred.quant, dst, z, a, rows)
	for r := range rows {
		sortSmall(dst[r*M : (r+1)*M])
	}
}

// sortSmall sorts x ascending by insertion, which is quick for the few
// values of a row of quantiles and allocates nothing.
func sortSmall(x []float32) {
	for i := 1; i < len(x); i++ {
		v := x[i]
		j := i
		for ; j > 0 && x[j-1] > v; j-- {
			x[j] = x[j-1]
		}
		x[j] = v
	}
}

// quantiles writes the outputs of quantile network q, as returns, for
// rows (z, a) pairs into dst (rows×M, unsorted), split over the cores by
// rows. Rows that share one latent and a few actions (a planner's first
// step) are computed once per distinct action.
func (m *Model) quantiles(q quantileNet, dst, z, a []float32, rows int) {
	M := q.out.out
	n, src := m.shareLatent(z, a, rows)
	if src == nil {
		m.quantileRows(q, dst, z, a, rows)
		return
	}
	shared := grow(&m.buf.quantShared, n*M)
	m.quantileRows(q, shared, m.buf.zc, m.buf.ac, n)
	for i, k := range src {
		copy(dst[i*M:(i+1)*M], shared[int(k)*M:(int(k)+1)*M])
	}
}

// quantileRows is quantiles on every row.
func (m *Model) quantileRows(q quantileNet, dst, z, a []float32, rows int) {
	h := q.hidden.out
	grow(&m.buf.t1, rows*h)
	grow(&m.buf.t2, rows*h)
	m.buf.quantileJob = quantileJob{m: m, q: q, dst: dst, z: z, a: a}
	work := rows * h * (q.inZ.in + q.inA.in + h + q.out.out)
	m.workers().split(rows, 16, work, &m.buf.quantileJob)
	m.buf.quantileJob = quantileJob{}
}

// quantileJob is quantileRows on a range of rows.
type quantileJob struct {
	m         *Model
	q         quantileNet
	dst, z, a []float32
}

func (j *quantileJob) run(lo, hi int) {
	m, q, n := j.m, j.q, hi-lo
	d, A, h, M := q.inZ.in, q.inA.in, q.hidden.out, q.out.out
	t2 := m.buf.t2[lo*h : hi*h]
	hiddenInto(m.buf.t1[lo*h:hi*h], t2, j.z[lo*d:hi*d], j.a[lo*A:hi*A], n, q.inZ, q.inA, q.hidden)
	out := j.dst[lo*M : hi*M]
	affine(out, t2, n, q.out)
	m.fromValueSpace(out)
}

// quantileTargets writes the distributional one-step targets of the
// quantile network for the batch's K·B transitions into dst (K·B×M, in
// the value space),
//
//	y_ij = r_i + γ (1 − d_i) θ̄_j(z̄_i, a*_i),   a*_i = argmax_b (1/M) Σ_j θ̄_j(z̄_i, b),
//
// with r_i the reward (and the batch's exploration bonus, as q's targets
// have it), d_i the terminal flag, z̄_i = zbar's row i the target
// embedding of the transition's next frame, θ̄ the target network read as
// returns, and b over every discrete action or value_candidates random
// actions in [−1, 1]^A drawn from rng.
func (m *Model) quantileTargets(dst []float32, b *Batch, zbar []float32, rng *rand.Rand) {
	rows, d, M, nc := b.K*b.B, m.cfg.LatentDim, m.cfg.QQuantiles, m.candidates()
	cand := m.actionCandidates(rows, rng)
	cz := grow(&m.buf.cz, rows*nc*d)
	repeatRows(cz, zbar, rows, nc, d)
	next := grow(&m.buf.quantNext, rows*nc*M)
	m.quantiles(m.tquant, next, cz, cand, rows*nc)
	gamma := float32(m.cfg.Discount)
	for i := range rows {
		best, bestMean := 0, math.Inf(-1)
		for k := range nc {
			s := 0.0
			for _, v := range next[(i*nc+k)*M : (i*nc+k+1)*M] {
				s += float64(v)
			}
			if s > bestMean {
				best, bestMean = k, s
			}
		}
		r := b.Rewards[i]
		if b.Bonus != nil {
			r += b.Bonus[i]
		}
		c := gamma * (1 - b.Terminated[i])
		src := next[(i*nc+best)*M : (i*nc+best+1)*M]
		for j, v := range src {
			dst[i*M+j] = r + c*v
		}
	}
	m.toValueSpace(dst[:rows*M])
}

// seedTargets seeds the generator of the quantile targets' random
// candidate actions from rng, for a model that has them (q_quantiles with
// continuous actions); the targets run beside the graph, which draws from
// rng meanwhile.
func (m *Model) seedTargets(rng *rand.Rand) {
	if m.targetPCG != nil {
		m.targetPCG.Seed(rng.Uint64(), rng.Uint64())
	}
}
