package planner

import (
	"math/rand/v2"
)

// rollout is the state of the Rollout method: the greedy policy's action
// per row, the latents and one-hot actions of the batch that evaluates q
// at every action of every row, and the chosen path of each first action.
type rollout struct {
	cur  []int     // rows: the action each row takes at the current step
	qz   []float32 // rows·n × LatentDim: each row's latent, once per action
	qa   []float32 // rows·n × n: one-hot actions 0 … n−1, per row
	qv   []float32 // rows·n: q(z_r, b)
	path []float64 // n × H: the actions of the first future of each first action
}

func newRollout(rows, n, h, latent int) *rollout {
	ro := &rollout{
		cur:  make([]int, rows),
		qz:   make([]float32, rows*n*latent),
		qa:   make([]float32, rows*n*n),
		qv:   make([]float32, rows*n),
		path: make([]float64, n*h),
	}
	for r := range rows {
		for b := range n {
			ro.qa[(r*n+b)*n+b] = 1
		}
	}
	return ro
}

// planRollout chooses a discrete action by the rollout algorithm over the
// model. Every first action a of the n actions is followed by K futures
// (sampled when K > 1, the predicted means when K = 1) in which each later
// action is greedy on the action value at the imagined latent:
//
//	ẑ_0 = z_0,  a_0 = a,  ẑ_{h+1} ~ p(· | ẑ_h, a_h),  a_h = argmax_b q(ẑ_h, b) for h ≥ 1
//	G = Σ_{h<H−1} γ^h (Π_{j<h} ĉ_j) r̂_h + γ^{H−1} (Π_{j<H−1} ĉ_j) q(ẑ_{H−1}, a_{H−1})
//
// With Lambda λ < 1 a future's score is its TD(λ) return instead, over
// the h-step returns G⁽ʰ⁾ that bootstrap with q after h − 1 imagined
// steps (G⁽¹⁾ = q(z_0, a), G⁽ᴴ⁾ = G above):
//
//	G^λ = (1 − λ) Σ_{h=1}^{H−1} λ^{h−1} G⁽ʰ⁾ + λ^{H−1} G⁽ᴴ⁾
//
// so that the one-step action value, which integrates a move's outcomes
// exactly, is kept in part where the K sampled futures estimate them with
// noise.
//
// The risk measure aggregates each first action's K returns, and the
// action with the best aggregate (plus its bonus, if any) is taken, ties
// to the lowest index. When the model's action value has quantiles
// θ_1 … θ_M (a QuantileValuer), whatever the risk measure, each future
// contributes M atoms instead, q(ẑ_{h−1}, a_{h−1}) giving way to
// θ_j(ẑ_{h−1}, a_{h−1}) in atom j of G and of every G⁽ʰ⁾,
//
//	G_j = Σ_{h<H−1} γ^h (Π_{i<h} ĉ_i) r̂_h + γ^{H−1} (Π_{i<H−1} ĉ_i) θ_j(ẑ_{H−1}, a_{H−1}),
//	G^λ_j = (1 − λ) Σ_{h=1}^{H−1} λ^{h−1} G⁽ʰ⁾_j + λ^{H−1} G⁽ᴴ⁾_j,
//
// and the risk measure aggregates a first action's K·M atoms (the
// package documentation says why the sum over h is taken quantile by
// quantile). The later actions stay greedy on q, the mean. With H = 1
// this is the greedy action on q(z_0, ·) (or on the risk of its
// quantiles).
//
// A plan that fixes its later actions in advance (CEM, MPPI) must take
// the same action whatever the sampled outcome, which on a slippery
// gridworld scores every good first move low; here each future acts on
// the outcome it drew, as the policy will.
func (p *MPC) planRollout(z0 []float32, rng *rand.Rand) {
	n, k, h, l := p.spec.Discrete, p.cfg.Samples, p.cfg.Horizon, p.latent
	rows, ro := n*k, p.ro
	for r := range rows {
		copy(p.z[r*l:(r+1)*l], z0)
		p.ret[r], p.disc[r] = 0, 1
		ro.cur[r] = r / k
	}
	p.scenarios()
	lam := p.cfg.Lambda
	blend := p.blends()
	weight := 1 - lam // of G⁽ˢ⁺¹⁾
	if blend {
		clear(p.acc)
		p.oneHot(rows)
		p.actionValue(rows)
		p.accumulate(weight, 1, rows)
		weight *= lam
	}
	g := 1.0
	for s := range h {
		if s > 0 {
			p.greedy(rows)
			if blend && s < h-1 {
				if p.qv != nil {
					p.oneHot(rows)
					p.actionValue(rows)
				}
				p.accumulate(weight, g, rows)
				weight *= lam
			}
		}
		for i := range n {
			ro.path[i*h+s] = float64(ro.cur[i*k])
		}
		if s == h-1 {
			if s == 0 || p.qv != nil {
				// greedy left q at the greedy action in p.val; the
				// quantiles are read here.
				p.oneHot(rows)
				p.actionValue(rows)
			}
			break
		}
		p.oneHot(rows)
		p.step(rows, rng)
		for r := range rows {
			p.ret[r] += g * p.disc[r] * float64(p.rew[r])
			p.disc[r] *= float64(p.cont[r])
		}
		g *= p.cfg.Discount
		p.z, p.next = p.next, p.z
	}
	out, w := p.outcomes(g, rows)
	best := 0
	for i := range n {
		p.scores[i] = p.cfg.Risk.Aggregate(out[i*k*w : (i+1)*k*w])
		if p.bonus != nil {
			p.scores[i] += p.bonus[i]
		}
		if p.scores[i] > p.scores[best] {
			best = i
		}
	}
	p.score = p.scores[best]
	copy(p.plan, ro.path[best*h:(best+1)*h])
	p.action[0] = float64(best)
}

// oneHot writes the one-hot action of every row's current action.
func (p *MPC) oneHot(rows int) {
	n := p.modelWidth
	act := p.act[:rows*n]
	clear(act)
	for r := range rows {
		act[r*n+p.ro.cur[r]] = 1
	}
}

// greedy sets every row's action to argmax_b q(ẑ_r, b), ties to the
// lowest index, and leaves q at that action in p.val.
func (p *MPC) greedy(rows int) {
	n, l, ro := p.modelWidth, p.latent, p.ro
	for r := range rows {
		zr := p.z[r*l : (r+1)*l]
		for b := range n {
			copy(ro.qz[(r*n+b)*l:(r*n+b+1)*l], zr)
		}
	}
	p.q.ActionValue(ro.qv, ro.qz, ro.qa, rows*n)
	for r := range rows {
		qs := ro.qv[r*n : (r+1)*n]
		best := 0
		for b := 1; b < n; b++ {
			if qs[b] > qs[best] {
				best = b
			}
		}
		ro.cur[r] = best
		p.val[r] = qs[best]
	}
}
