package worldmodel

import (
	"fmt"
	"hash"
	"math"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// latentValueTargets writes the value targets of value_target q or
// lambda from the online latents s (rows×d) of the batch's frames
// 0 … K−1, which it may overwrite; actions are the batch's logged
// actions at those frames (rows×A).
func (m *Model) latentValueTargets(dst, s, actions []float32, rows int, rng *rand.Rand) {
	switch {
	case m.cfg.ValueTarget == ValueQ && m.cfg.ValueExpectile > 0:
		m.actionValue(dst, s, actions[:rows*m.spec.ActionDim], rows)
	case m.cfg.ValueTarget == ValueQ:
		m.greedyTargets(dst, s, rows, rng)
	default:
		m.lambdaTargets(dst, s, rows, rng)
	}
}

// expectileWeights multiplies the value rows' weights w by the expectile
// loss's |τ − 1(G < V(s))| for the targets G at latents s (rows×d), V
// being the online value, so that the squared error they weigh is the
// asymmetric one of value_expectile τ.
func (m *Model) expectileWeights(w, targets, s []float32, rows int) {
	v := grow(&m.buf.val, rows)
	m.valueWith(m.val, v, s, rows)
	tau := float32(m.cfg.ValueExpectile)
	for i := range rows {
		if targets[i] < v[i] {
			w[i] *= 1 - tau
		} else {
			w[i] *= tau
		}
	}
}

// validMean is the mean of x over the rows whose valid entry is 1 (0
// when there is none).
func validMean(x, valid []float32) float64 {
	s, n := 0.0, 0.0
	for i, v := range x {
		s += float64(valid[i] * v)
		n += float64(valid[i])
	}
	if n == 0 {
		return 0
	}
	return s / n
}

// nStepReturns writes the n-step returns from replay,
//
//	G_j = Σ_{i<m} γ^i r_{j+i} + γ^m V̄(z̄_{j+m}),   m = min(n, K−j),
//
// (r including the batch's exploration bonus, if it has one)
// where the sum stops after a terminal step (and then has no bootstrap),
// V̄ is the target value network and z̄ = f_ξ(o) the target embeddings
// (zbar, K·B rows for frames 1 … K).
func (m *Model) nStepReturns(dst []float32, b *Batch, zbar []float32, n int) {
	B, K := b.B, b.K
	gamma := m.cfg.Discount
	vb := grow(&m.buf.val, K*B)
	m.valueWith(m.tval, vb, zbar, K*B)
	for bi := 0; bi < B; bi++ {
		for j := 0; j < K; j++ {
			steps := min(n, K-j)
			g, disc, alive := 0.0, 1.0, true
			for i := 0; i < steps; i++ {
				idx := (j+i)*B + bi
				r := b.Rewards[idx]
				if b.Bonus != nil {
					r += b.Bonus[idx]
				}
				g += disc * float64(r)
				disc *= gamma
				if b.Terminated[idx] != 0 {
					alive = false
					break
				}
			}
			if alive {
				g += disc * float64(vb[(j+steps-1)*B+bi])
			}
			dst[j*B+bi] = float32(g)
		}
	}
}

// lambdaTargets writes imagined TD(λ) returns from the replay latents
// s_j = f_θ(o_j) of the batch's frames 0 … K−1 (DESIGN.md, "The value target
// decides it"):
// for h = 0 … H−1 the model takes the greedy one-step-lookahead action
//
//	a_h = argmax_a r̂(s_h, a) + γ ĉ(s_h, a) V̄(μ(s_h, a))
//
// over every discrete action (or ValueCandidates random actions in
// [−1, 1]^A drawn from rng), moves to the mean s_{h+1} = μ(s_h, a_h), and
// the return is
//
//	G_H = V̄(s_H),   G_h = r_h + γ c_h ((1−λ) V̄(s_{h+1}) + λ G_{h+1})
//
// with r_h = r̂(s_h, a_h) and c_h = ĉ(s_h, a_h) the predicted reward and
// continuation probability. The target of V(ẑ_j) is G_0 from s_j.
//
// s holds the rows start latents and is overwritten.
func (m *Model) lambdaTargets(dst, s []float32, rows int, rng *rand.Rand) {
	c := m.cfg
	d := c.LatentDim
	H := c.ValueHorizon
	nc := m.candidates()
	gamma, lambda := float32(c.Discount), float32(c.Lambda)

	cz := grow(&m.buf.cz, rows*nc*d)
	next := grow(&m.buf.zn, rows*nc*d)
	cr := grow(&m.buf.cr, rows*nc)
	cc := grow(&m.buf.cc, rows*nc)
	cv := grow(&m.buf.cv, rows*nc)
	// Per step h: reward, continuation and bootstrap value V̄(s_{h+1}).
	traj := grow(&m.buf.target, 3*H*rows)
	rew, cont, boot := traj[:H*rows], traj[H*rows:2*H*rows], traj[2*H*rows:]
	// Discrete candidates are the same at every step; random ones are
	// drawn afresh.
	cand := m.actionCandidates(rows, rng)
	for h := 0; h < H; h++ {
		repeatRows(cz, s, rows, nc, d)
		if h > 0 && !m.spec.Discrete {
			cand = m.actionCandidates(rows, rng)
		}
		m.Step(next, cr, cc, cz, cand, rows*nc, false, nil)
		m.valueWith(m.tval, cv, next, rows*nc)
		for r := 0; r < rows; r++ {
			best, bestQ := 0, float32(math.Inf(-1))
			for k := 0; k < nc; k++ {
				i := r*nc + k
				if q := cr[i] + gamma*cc[i]*cv[i]; q > bestQ {
					best, bestQ = k, q
				}
			}
			i := r*nc + best
			rew[h*rows+r], cont[h*rows+r], boot[h*rows+r] = cr[i], cc[i], cv[i]
			copy(s[r*d:(r+1)*d], next[i*d:(i+1)*d])
		}
	}
	for r := 0; r < rows; r++ {
		g := boot[(H-1)*rows+r]
		for h := H - 1; h >= 0; h-- {
			i := h*rows + r
			g = rew[i] + gamma*cont[i]*((1-lambda)*boot[i]+lambda*g)
		}
		dst[r] = g
	}
}

// candidates is the number nc of candidate actions a value target
// compares per latent: every discrete action, or ValueCandidates random
// ones.
func (m *Model) candidates() int {
	if m.spec.Discrete {
		return m.spec.ActionDim
	}
	return m.cfg.ValueCandidates
}

// actionCandidates fills the buffer of candidate actions for rows latents
// and returns it (rows·nc×A, nc = candidates()): every discrete action
// (one-hot), or random actions in [−1, 1]^A drawn from rng.
func (m *Model) actionCandidates(rows int, rng *rand.Rand) []float32 {
	A, nc := m.spec.ActionDim, m.candidates()
	cand := grow(&m.buf.cand, rows*nc*A)
	if !m.spec.Discrete {
		for i := range cand {
			cand[i] = float32(2*rng.Float64() - 1)
		}
		return cand
	}
	clear(cand)
	for r := 0; r < rows; r++ {
		for k := 0; k < nc; k++ {
			cand[(r*nc+k)*A+k] = 1
		}
	}
	return cand
}

// repeatRows writes each of rows latents of s (d values) nc times in a
// row into dst.
func repeatRows(dst, s []float32, rows, nc, d int) {
	for r := 0; r < rows; r++ {
		for k := 0; k < nc; k++ {
			copy(dst[(r*nc+k)*d:(r*nc+k+1)*d], s[r*d:(r+1)*d])
		}
	}
}

// greedyTargets writes the value targets of ValueQ,
//
//	V(s_j) ← max_a q(s_j, a),
//
// over every discrete action (or ValueCandidates random actions in
// [−1, 1]^A drawn from rng) at the replay latents s (rows×d). The action
// value q regresses the one-step returns r + γ(1−d)V̄(z̄') of the logged
// transitions, so both are learned on real latents and real next latents:
// no value is read off an imagined mean, which for a transition with
// several outcomes lies between them (DESIGN.md's feasibility study).
func (m *Model) greedyTargets(dst, s []float32, rows int, rng *rand.Rand) {
	d, nc := m.cfg.LatentDim, m.candidates()
	cand := m.actionCandidates(rows, rng)
	cz := grow(&m.buf.cz, rows*nc*d)
	repeatRows(cz, s, rows, nc, d)
	q := grow(&m.buf.cv, rows*nc)
	m.actionValue(q, cz, cand, rows*nc)
	if m.cfg.ValueGreedy == ValueGreedyAverage {
		// Rank by the averaged q, read the online one.
		avg := m.Averaged()
		qa := grow(&m.buf.cc, rows*nc)
		avg.actionValue(qa, cz, cand, rows*nc)
		for r := 0; r < rows; r++ {
			best := r * nc
			for k := r*nc + 1; k < (r+1)*nc; k++ {
				if qa[k] > qa[best] {
					best = k
				}
			}
			dst[r] = q[best]
		}
		return
	}
	for r := 0; r < rows; r++ {
		best := float32(math.Inf(-1))
		for _, v := range q[r*nc : (r+1)*nc] {
			best = max(best, v)
		}
		dst[r] = best
	}
}

// HasActionValue reports whether the model learns an action value
// (value_target "q").
func (m *Model) HasActionValue() bool { return m.pred.q.w != nil }

// ActionValue writes the learned action value q(z, a) of rows (latent,
// action) pairs into dst: the expected discounted return of taking a in z
// and then acting greedily, including the immediate reward,
//
//	q(z, a) ≈ E[r + γ(1−d) V(z')].
//
// It panics when the model has no action value (see HasActionValue).
// ActionValue implements the planner's ActionValuer.
func (m *Model) ActionValue(dst, z, a []float32, rows int) {
	if !m.HasActionValue() {
		panic("worldmodel: ActionValue on a model without an action value (value_target is not \"q\")")
	}
	checkLen("ActionValue", "z", z, rows*m.cfg.LatentDim)
	checkLen("ActionValue", "a", a, rows*m.spec.ActionDim)
	checkLen("ActionValue", "dst", dst, rows)
	m.actionValue(dst, z, a, rows)
}

// actionValue is ActionValue without the checks, split over the cores by
// rows. Rows that share one latent and a few actions (a planner's first
// step) are computed once per distinct action, as Step does.
func (m *Model) actionValue(dst, z, a []float32, rows int) {
	n, src := m.shareLatent(z, a, rows)
	if src == nil {
		m.actionValueRows(dst, z, a, rows)
		return
	}
	q := grow(&m.buf.qShared, n)
	m.actionValueRows(q, m.buf.zc, m.buf.ac, n)
	for i, k := range src {
		dst[i] = q[k]
	}
}

// actionValueRows is actionValue on every row.
func (m *Model) actionValueRows(dst, z, a []float32, rows int) {
	hidden := m.cfg.Hidden
	grow(&m.buf.t1, rows*hidden)
	grow(&m.buf.t2, rows*hidden)
	m.buf.actionValueJob = actionValueJob{m: m, dst: dst, z: z, a: a}
	work := rows * hidden * (m.cfg.LatentDim + m.spec.ActionDim + hidden + 1)
	if m.cfg.QHead == QHeadAdvantage {
		v := m.val
		grow(&m.buf.v1, rows*v.l1.out)
		grow(&m.buf.v2, rows*v.l2.out)
		grow(&m.buf.qBase, rows)
		work += rows * (v.l1.in*v.l1.out + v.l2.in*v.l2.out + v.out.in)
	}
	m.workers().split(rows, 16, work, &m.buf.actionValueJob)
	m.buf.actionValueJob = actionValueJob{}
}

// actionValueJob is actionValue on a range of rows.
type actionValueJob struct {
	m         *Model
	dst, z, a []float32
}

func (j *actionValueJob) run(lo, hi int) {
	m, n := j.m, hi-lo
	d, A, hidden := m.cfg.LatentDim, m.spec.ActionDim, m.cfg.Hidden
	t2 := m.buf.t2[lo*hidden : hi*hidden]
	inZ, inA, hid := m.pred.qLayers()
	hiddenInto(m.buf.t1[lo*hidden:hi*hidden], t2, j.z[lo*d:hi*d], j.a[lo*A:hi*A], n, inZ, inA, hid)
	affine(j.dst[lo:hi], t2, n, m.pred.q)
	if m.cfg.QHead == QHeadAdvantage {
		// q = A + V, in the value space in which both heads train.
		base := m.buf.qBase[lo:hi]
		m.valueRows(m.val, base, j.z[lo*d:hi*d], lo, hi)
		for i, v := range base {
			j.dst[lo+i] += v
		}
	}
	m.fromValueSpace(j.dst[lo:hi])
}

// valueTargetOp computes, in the training graph, the value targets that
// need the online latents of the batch's frames 0 … K−1 (value_target q
// or lambda) from the latents the graph's encoder computed, so that those
// frames are not encoded a second time. Its input z is every frame's
// latent ((K+1)·B rows, frames 0 … K−1 first); the targets are constants
// of the loss: the op has no gradient.
type valueTargetOp struct {
	m       *Model
	rows, d int // z's shape
	n       int // target rows
	out     *tensor.Dense
	st      *valueTargetState
}

// valueTargetState is what a valueTargetOp shares with its training graph.
type valueTargetState struct {
	rng     *rand.Rand // the step's generator, set before each run
	actions []float32  // the batch's actions, set before each run
	// weights are the value rows' weights, an input of the value loss,
	// which an expectile value rescales after the run's targets are
	// known (the op runs before the loss reads them).
	weights []float32
	latents []float32 // the latents the targets may overwrite
	// frozen keeps the targets of the last run (to take finite
	// differences of the loss with its targets held constant).
	frozen bool
}

func (m *Model) graphValueTargets(z *G.Node, n int, st *valueTargetState) *G.Node {
	sh := z.Shape()
	op := valueTargetOp{m: m, rows: sh[0], d: sh[1], n: n, out: newMatrix(n, 1), st: st}
	return must(G.ApplyOp(op, z))
}

func (op valueTargetOp) Arity() int    { return 1 }
func (op valueTargetOp) Type() hm.Type { return fnType(1) }
func (op valueTargetOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, 1}, nil
}
func (op valueTargetOp) Do(vals ...G.Value) (G.Value, error) {
	if op.st.frozen {
		return op.out, nil
	}
	s := grow(&op.st.latents, op.n*op.d)
	z := data(vals[0])[:op.n*op.d]
	copy(s, z)
	out := op.out.Float32s()
	op.m.latentValueTargets(out, s, op.st.actions, op.n, op.st.rng)
	if op.m.cfg.ValueExpectile > 0 {
		op.m.expectileWeights(op.st.weights[:op.n], out, z, op.n)
	}
	op.m.toValueSpace(out)
	return op.out, nil
}
func (op valueTargetOp) DiffWRT(int) []bool { return []bool{false} }
func (op valueTargetOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("worldmodel: %v has no gradient", op)
}
func (op valueTargetOp) ReturnsPtr() bool      { return false }
func (op valueTargetOp) CallsExtern() bool     { return false }
func (op valueTargetOp) OverwritesInput() int  { return -1 }
func (op valueTargetOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op valueTargetOp) Hashcode() uint32      { return hashString(op.String()) }
func (op valueTargetOp) String() string {
	return fmt.Sprintf("ValueTargets(%s, %d of %d×%d)", op.m.cfg.ValueTarget, op.n, op.rows, op.d)
}
