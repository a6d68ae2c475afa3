package worldmodel

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// buffers are the inference path's scratch slices. Each grows to the
// largest number of rows seen, so that steady-state calls allocate nothing.
// Every stage has its own slices, so a stage's output may be another
// stage's input.
type buffers struct {
	in, e1 []float32 // encoder: standardised input, first layer
	e2     []float32 // encoder: hidden layer (EncoderHidden)
	t1, t2 []float32 // predictor trunk
	u      []float32 // predictor factor (Predict)
	v1, v2 []float32 // value network
	d1     []float32 // decoder

	// Step: the packed heads (weights and bias, and a layer reading
	// them), their output, the distinct rows of a shared latent and the
	// row each row reads.
	headW, headB, head []float32
	heads              linear
	noise              []float32 // the samples' ε and η (mixture: u and ε), row after row
	zc, ac             []float32
	src                []int32

	// Jobs that the pool splits by rows.
	stepJob        stepJob
	actionValueJob actionValueJob
	quantileJob    quantileJob
	valueJob       valueJob
	encodeJob      encodeJob
	adamJob        adamJob
	standardizeJob standardizeJob

	// Training-time buffers (value targets, calibration, decoder input).
	z, zt, zn, val       []float32
	cand, cz, cr, cc, cv []float32
	target, ret          []float32
	qBase, qShared       []float32 // V(z) under q_head advantage; q of distinct rows
	quantShared          []float32 // quantiles of distinct rows
	quantNext            []float32 // target quantiles at the next latents, per candidate action
	mu, logVar, factor   []float32

	// Mixture heads (Predict, Calibration): Δμ and raw log σ² (M·d per
	// row) and the logits (M per row).
	mixMu, mixLogVar, mixLogits []float32
}

// grow returns (*b)[:n], reallocating when the capacity is short.
func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// gemm computes c += a·b for row-major a (m×k), b (k×n) and c (m×n),
// serially and without allocating.
func gemm(m, n, k int, a, b, c []float32) {
	gemmT(true, false, false, m, n, k, a, k, b, n, 1, c, n)
}

// affine writes dst = x·W + b for rows rows of x (rows×l.in).
func affine(dst, x []float32, rows int, l linear) {
	dst = dst[:rows*l.out]
	if l.b != nil {
		for r := 0; r < rows; r++ {
			copy(dst[r*l.out:(r+1)*l.out], l.b.data)
		}
	} else {
		clear(dst)
	}
	gemm(rows, l.out, l.in, x[:rows*l.in], l.w.data, dst)
}

// affineAdd adds x·W (no bias) to dst.
func affineAdd(dst, x []float32, rows int, l linear) {
	gemm(rows, l.out, l.in, x[:rows*l.in], l.w.data, dst[:rows*l.out])
}

// relu sets the negative values of x to zero, without branches (the
// signs of activations are unpredictable): the sign bit, spread over the
// word, masks the value out. Eight values per iteration let the CPU
// overlap them.
func relu(x []float32) {
	n := len(x) &^ 7
	for i := 0; i < n; i += 8 {
		s := x[i : i+8 : i+8]
		for k := range 8 {
			u := math.Float32bits(s[k])
			s[k] = math.Float32frombits(u &^ uint32(int32(u)>>31))
		}
	}
	for i, v := range x[n:] {
		u := math.Float32bits(v)
		x[n+i] = math.Float32frombits(u &^ uint32(int32(u)>>31))
	}
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// variance is the predicted variance of one latent coordinate before the
// low-rank term: the raw head output v soft-bounded to [lo, hi] (mbrl-lib;
// loss.SoftBound),
//
//	h = hi − softplus(hi − v),   log σ² = lo + softplus(h − lo),
//
// plus the floor. Since exp(softplus(u)) = 1 + eᵘ, the bounded variance
// needs a single exponential:
//
//	σ² = e^lo + e^hi / (1 + e^(hi − v)) + floor.
func (m *Model) variance(raw float32) float64 {
	return m.expLo + m.expHi/(1+math.Exp(m.cfg.MaxLogVar-float64(raw))) + m.cfg.VarFloor
}

func checkLen(method, name string, s []float32, n int) {
	if len(s) < n {
		panic(fmt.Sprintf("worldmodel: %s: %s has %d values, need %d", method, name, len(s), n))
	}
}

// center writes the standardised inputs (x − mean)/s into dst for rows
// input rows; the mean (one observation) is subtracted from each of the
// stacked observations.
func (m *Model) center(dst, obs []float32, rows int) {
	unit, inv := len(m.norm.mean), m.norm.inv
	for i := range dst[:rows*m.spec.InputDim()] {
		dst[i] = (obs[i] - m.norm.mean[i%unit]) * inv
	}
}

// patchify writes the standardised P×P patches of rows pixel inputs into dst,
// one patch per row of dst (rows·nPatch rows of patchLen values): the
// values of patch (py, px) are ordered by channel, then ky, then kx.
//
// It walks the input in memory order, one image row of one channel at a
// time, and scatters each P-value run to its patch: the value at (ch, y,
// x) goes to patch (y/P, x/P), offset (ch·P + y%P)·P + x%P.
func (m *Model) patchify(dst, obs []float32, rows int) {
	h, w, p := m.spec.Frame[0], m.spec.Frame[1], m.cfg.Patch
	hw := h * w
	channels := 3 * m.spec.Stack
	in := m.spec.InputDim()
	cols, plen := m.patchCols, m.patchLen
	inv := m.norm.inv
	for r := 0; r < rows; r++ {
		x := obs[r*in : (r+1)*in]
		out := dst[r*m.nPatch*plen : (r+1)*m.nPatch*plen]
		for ch := 0; ch < channels; ch++ {
			plane := x[ch*hw : (ch+1)*hw]
			mean := m.norm.mean[(ch%3)*hw : (ch%3+1)*hw]
			for y := 0; y < m.patchRows*p; y++ {
				src, mu := plane[y*w:y*w+cols*p], mean[y*w:y*w+cols*p]
				base := (y/p)*cols*plen + (ch*p+y%p)*p
				if p == 4 {
					for px := 0; px < cols; px++ {
						d := out[base+px*plen : base+px*plen+4]
						s, u := src[px*4:px*4+4], mu[px*4:px*4+4]
						d[0] = (s[0] - u[0]) * inv
						d[1] = (s[1] - u[1]) * inv
						d[2] = (s[2] - u[2]) * inv
						d[3] = (s[3] - u[3]) * inv
					}
					continue
				}
				for px := 0; px < cols; px++ {
					d := out[base+px*plen : base+px*plen+p]
					s, u := src[px*p:px*p+p], mu[px*p:px*p+p]
					for kx, v := range s {
						d[kx] = (v - u[kx]) * inv
					}
				}
			}
		}
	}
}

// standardize writes the encoder's input for rows input rows into dst:
// the standardised patches for pixels, the standardised vector otherwise.
func (m *Model) standardize(dst, obs []float32, rows int) {
	if m.spec.Pixels() {
		m.patchify(dst, obs, rows)
	} else {
		m.center(dst, obs, rows)
	}
}

// standardizeRows is standardize split over the cores by rows.
func (m *Model) standardizeRows(dst, obs []float32, rows int) {
	m.buf.standardizeJob = standardizeJob{m: m, dst: dst, obs: obs}
	m.workers().split(rows, 8, moveWork*rows*m.spec.InputDim(), &m.buf.standardizeJob)
	m.buf.standardizeJob = standardizeJob{}
}

// standardizeJob is standardize on a range of rows.
type standardizeJob struct {
	m        *Model
	dst, obs []float32
}

func (j *standardizeJob) run(lo, hi int) {
	sl, in := j.m.standardLen(), j.m.spec.InputDim()
	j.m.standardize(j.dst[lo*sl:hi*sl], j.obs[lo*in:hi*in], hi-lo)
}

// standardLen is the length of the standardised input of one row.
func (m *Model) standardLen() int {
	if m.spec.Pixels() {
		return m.nPatch * m.patchLen
	}
	return m.spec.InputDim()
}

// encodeStandard runs encoder e on rows standardised input rows x.
func (m *Model) encodeStandard(e encoder, dst, x []float32, rows int) {
	m.encode(e, dst, nil, x, rows)
}

// encodeWith runs encoder e on rows input rows.
func (m *Model) encodeWith(e encoder, dst, obs []float32, rows int) {
	m.encode(e, dst, obs, grow(&m.buf.in, rows*m.standardLen()), rows)
}

// encode runs encoder e on rows rows, split over the cores by rows: it
// standardises obs into x first unless obs is nil (x then holds the
// standardised inputs).
func (m *Model) encode(e encoder, dst, obs, x []float32, rows int) {
	per := 1 // first-layer rows per input row
	if m.spec.Pixels() {
		per = m.nPatch
	}
	grow(&m.buf.e1, rows*per*e.first.out)
	work := rows * (per*e.first.in*e.first.out + e.second.in*e.second.out)
	if e.hasMid() {
		grow(&m.buf.e2, rows*e.mid.out)
		work += rows * e.mid.in * e.mid.out
	}
	m.buf.encodeJob = encodeJob{m: m, e: e, dst: dst, obs: obs, x: x, per: per}
	m.workers().split(rows, 1, work, &m.buf.encodeJob)
	m.buf.encodeJob = encodeJob{}
}

// encodeJob is encode on a range of rows.
type encodeJob struct {
	m           *Model
	e           encoder
	dst, obs, x []float32
	per         int
}

func (j *encodeJob) run(lo, hi int) {
	m, e, n := j.m, j.e, hi-lo
	sl := m.standardLen()
	x := j.x[lo*sl : hi*sl]
	if j.obs != nil {
		in := m.spec.InputDim()
		m.standardize(x, j.obs[lo*in:hi*in], n)
	}
	e1 := m.buf.e1[lo*j.per*e.first.out : hi*j.per*e.first.out]
	affine(e1, x, n*j.per, e.first)
	relu(e1)
	if e.hasMid() {
		e2 := m.buf.e2[lo*e.mid.out : hi*e.mid.out]
		affine(e2, e1, n, e.mid)
		relu(e2)
		e1 = e2
	}
	d := e.second.out
	z := j.dst[lo*d : hi*d]
	affine(z, e1, n, e.second)
	if m.cfg.EmbedNorm == EmbedNormRMS {
		for r := 0; r < n; r++ {
			rmsNormRow(z[r*d:(r+1)*d], z[r*d:(r+1)*d])
		}
	}
}

// Encode writes the online latents z = f_θ(o) of rows input rows (obs is
// rows×InputDim, laid out as Spec says) into dst (rows×LatentDim).
func (m *Model) Encode(dst, obs []float32, rows int) {
	checkLen("Encode", "obs", obs, rows*m.spec.InputDim())
	checkLen("Encode", "dst", dst, rows*m.cfg.LatentDim)
	m.encodeWith(m.enc, dst, obs, rows)
}

// trunk runs the predictor's trunk on (z, a) and returns its output
// (rows×Hidden, a scratch slice valid until the next call).
func (m *Model) trunk(z, a []float32, rows int) []float32 {
	p := m.pred
	t1 := grow(&m.buf.t1, rows*p.inZ.out)
	t2 := grow(&m.buf.t2, rows*p.hidden.out)
	m.trunkInto(t1, t2, z, a, rows)
	return t2
}

// trunkInto runs the predictor's trunk on rows rows (z, a), its first
// layer into t1 and its output into t2.
func (m *Model) trunkInto(t1, t2, z, a []float32, rows int) {
	p := m.pred
	hiddenInto(t1, t2, z, a, rows, p.inZ, p.inA, p.hidden)
}

// hiddenInto writes relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂), the hidden
// layers of a network on (z, a), with its first layer into t1 and its
// output into t2.
func hiddenInto(t1, t2, z, a []float32, rows int, inZ, inA, hidden linear) {
	affine(t1, z, rows, inZ)
	affineAdd(t1, a, rows, inA)
	relu(t1)
	affine(t2, t1, rows, hidden)
	relu(t2)
}

// mean writes μ = z + Δμ(t) into dst.
func (m *Model) meanHead(dst, t, z []float32, rows int) {
	affine(dst, t, rows, m.pred.mu)
	for i := range dst[:rows*m.cfg.LatentDim] {
		dst[i] += z[i]
	}
}

// Step predicts one step for rows (latent, action) pairs: the next latent
// into next (rows×d), the reward r̂(z, a) into reward and the probability
// of continuing ĉ(z, a) into cont (rows each; either may be nil). With
// sample false, or for the deterministic model, next is the mean μ (for
// the mixture, the most likely component's mean μ_c, c = argmax_m π_m);
// with sample true the Gaussian model draws
//
//	z' = μ + σ⊙ε + U·η,   ε ~ N(0, I_d), η ~ N(0, I_r)
//
// from rng, row after row (ε then η), and the mixture draws a component c
// by its weights π, then a sample of it,
//
//	c = min{k : Σ_{m≤k} π_m > u},   z' = μ_c + σ_c⊙ε,   u ~ U[0, 1), ε ~ N(0, I_d)
//
// row after row (u then ε). a holds rows×ActionDim values. Step
// implements the planner's model interface.
//
// The heads (Δμ, and for sampling log σ² and U, the mixture's logits, then
// r̂ and ĉ) run as one product on weights packed side by side. When every row has the same
// latent and the actions take few distinct values (a planner's first
// step: one start latent, a few first actions), the trunk and the heads
// run once per distinct row; the samples are drawn per row as always.
func (m *Model) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, sample, sample, rows, rng)
}

// StepCommon is Step with sample true and common random numbers: it draws
// the noise of period rows only (in the order Step draws it), and row i
// uses the draws of row i mod period. A planner whose rows are candidate
// c's future k at row c·K + k passes period K: the futures k of every
// candidate then share one draw (one scenario), and two candidates' scores
// differ by what their actions do, not by their draws. The same draws
// again (rng in the same state) give the same scenarios to candidates of
// a later iteration, as PEGASUS fixes its scenarios for a policy search.
// period must divide rows.
func (m *Model) StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, true, true, period, rng)
}

// StepComponents is Step with sample true, less the noise within a
// component: the mixture draws a component c by its weights π and
// follows its mean,
//
//	c = min{k : Σ_{m≤k} π_m > u},   z' = μ_c,   u ~ U[0, 1),
//
// one u per row from rng. Where each component sits on one real outcome
// of a move, every imagined latent is then one of those outcomes' latents
// rather than a point near it, and the heads read latents like those they
// were trained on. A model of one component (Gaussian or deterministic)
// has nothing to draw: next is its mean, as Step with sample false.
func (m *Model) StepComponents(next, reward, cont, z, a []float32, rows int, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, m.cfg.Dynamics == DynamicsMixture, false, rows, rng)
}

// StepComponentsCommon is StepComponents with common random numbers: row
// i draws its component with the u of row i mod period (see StepCommon).
func (m *Model) StepComponentsCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, m.cfg.Dynamics == DynamicsMixture, false, period, rng)
}

// step is Step with the two kinds of randomness apart: pick draws the
// mixture's component (else the most likely one), noisy draws the noise
// of a Gaussian or of the picked component (else its mean). The noise is
// drawn for period rows, row i using that of row i mod period.
func (m *Model) step(next, reward, cont, z, a []float32, rows int, pick, noisy bool, period int, rng *rand.Rand) {
	sample := pick && noisy
	d, A := m.cfg.LatentDim, m.spec.ActionDim
	if rows > 0 && (period < 1 || rows%period != 0) {
		panic(fmt.Sprintf("worldmodel: Step with %d rows and a noise period of %d (allowed: a divisor of the rows)", rows, period))
	}
	checkLen("Step", "z", z, rows*d)
	checkLen("Step", "a", a, rows*A)
	checkLen("Step", "next", next, rows*d)
	if reward != nil {
		checkLen("Step", "reward", reward, rows)
	}
	if cont != nil {
		checkLen("Step", "cont", cont, rows)
	}
	gauss := sample && m.cfg.Dynamics == DynamicsGaussian
	mix := m.cfg.Dynamics == DynamicsMixture
	r := 0
	if gauss {
		r = m.cfg.Rank
	}
	n, src := m.shareLatent(z, a, rows)
	zc, ac := z, a
	if src != nil {
		zc, ac = m.buf.zc, m.buf.ac
	}
	w := m.packHeads(gauss, mix, sample)
	hidden := m.cfg.Hidden
	grow(&m.buf.t1, n*hidden)
	grow(&m.buf.t2, n*hidden)
	h := grow(&m.buf.head, n*w)
	m.buf.stepJob = stepJob{m: m, z: zc, a: ac, w: w, gauss: gauss}
	work := n * hidden * (d + A + hidden + w)
	// The noise depends on nothing the products compute: it is drawn, in
	// the order of the rows (ε then η), while the helpers start on them.
	var noise []float32
	var draw func()
	switch {
	case gauss:
		noise = grow(&m.buf.noise, period*(d+r))
		draw = func() {
			for i := range noise {
				noise[i] = float32(rng.NormFloat64())
			}
		}
	case mix && pick && !noisy:
		noise = grow(&m.buf.noise, period)
		draw = func() {
			for i := range noise {
				noise[i] = float32(rng.Float64())
			}
		}
	case mix && sample:
		noise = grow(&m.buf.noise, period*(d+1))
		draw = func() {
			for i := range noise {
				if i%(d+1) == 0 {
					noise[i] = float32(rng.Float64())
				} else {
					noise[i] = float32(rng.NormFloat64())
				}
			}
		}
	}
	m.workers().splitWhile(n, 16, work, &m.buf.stepJob, draw)
	m.buf.stepJob = stepJob{}
	if mix {
		m.mixtureRows(next, reward, cont, z, h, noise, src, rows, period, w, pick, noisy)
		return
	}
	for i := 0; i < rows; i++ {
		k := i
		if src != nil {
			k = int(src[i])
		}
		hk := h[k*w : (k+1)*w]
		row, zi := next[i*d:(i+1)*d], z[i*d:(i+1)*d]
		for j, dm := range hk[:d] {
			row[j] = zi[j] + dm
		}
		if reward != nil {
			reward[i] = hk[w-2]
		}
		if cont != nil {
			cont[i] = float32(sigmoid(float64(hk[w-1])))
		}
		if !gauss {
			continue
		}
		e := i % period
		eps := noise[e*(d+r) : (e+1)*(d+r)]
		for j, sd := range hk[d : 2*d] {
			row[j] += sd * eps[j]
		}
		ui := hk[2*d : 2*d+d*r]
		for k, eta := range eps[d:] {
			for j := range row {
				row[j] += ui[j*r+k] * eta
			}
		}
	}
}

// stepJob is the part of Step that is independent per computed row: the
// trunk, the packed heads and, with gauss, the standard deviations σ
// (written over the raw log σ² columns), on a range of rows.
type stepJob struct {
	m     *Model
	z, a  []float32
	w     int
	gauss bool
}

func (j *stepJob) run(lo, hi int) {
	m, n := j.m, hi-lo
	d, A, hidden, w := m.cfg.LatentDim, m.spec.ActionDim, m.cfg.Hidden, j.w
	t2 := m.buf.t2[lo*hidden : hi*hidden]
	m.trunkInto(m.buf.t1[lo*hidden:hi*hidden], t2, j.z[lo*d:hi*d], j.a[lo*A:hi*A], n)
	h := m.buf.head[lo*w : hi*w]
	affine(h, t2, n, m.buf.heads)
	if j.gauss {
		for k := 0; k < n; k++ {
			m.sigmas(h[k*w+d : k*w+2*d])
		}
	}
}

// packHeads packs the heads Step needs side by side into m.buf.headW
// (Hidden × w) and m.buf.headB (w), the layer m.buf.heads, and returns w.
// The columns of a row are Δμ (d), then with gauss the raw log σ² (d) and
// the factor U (d·r), then the reward and the continuation logit. For the
// mixture (mix set) they are Δμ (M·d), the raw log σ² (M·d) when sampling,
// the logits (M), the reward and the continuation logit. Packing copies
// the weights on every call, so it always sees the current ones; it costs
// Hidden·w copies, little next to a product of many rows.
func (m *Model) packHeads(gauss, mix, sample bool) int {
	p := m.pred
	var all [5]linear // on the stack: packing allocates nothing
	heads := append(all[:0], p.mu)
	switch {
	case gauss:
		heads = append(heads, p.logVar)
		if m.cfg.Rank > 0 {
			heads = append(heads, p.u)
		}
	case mix:
		if sample {
			heads = append(heads, p.logVar)
		}
		heads = append(heads, p.logits)
	}
	heads = append(heads, p.reward, p.cont)
	w := 0
	for _, l := range heads {
		w += l.out
	}
	hw := grow(&m.buf.headW, m.cfg.Hidden*w)
	hb := grow(&m.buf.headB, w)
	off := 0
	for _, l := range heads {
		for k := 0; k < l.in; k++ {
			copy(hw[k*w+off:k*w+off+l.out], l.w.data[k*l.out:(k+1)*l.out])
		}
		copy(hb[off:off+l.out], l.b.data)
		off += l.out
	}
	if m.buf.heads.w == nil {
		m.buf.heads = linear{w: &param{name: "heads.w"}, b: &param{name: "heads.b"}}
	}
	m.buf.heads.in, m.buf.heads.out = m.cfg.Hidden, w
	m.buf.heads.w.data, m.buf.heads.b.data = hw, hb
	return w
}

// sigmas replaces raw log σ² head outputs by the standard deviations
// σ = √variance(raw), in float32 arithmetic with exp32: within 3 ulp of
// variance's float64 value, at less than half its cost, which dominates
// sampling.
func (m *Model) sigmas(raw []float32) {
	base := float32(m.expLo + m.cfg.VarFloor)
	expHi, hi := float32(m.expHi), float32(m.cfg.MaxLogVar)
	for j, v := range raw {
		raw[j] = float32(math.Sqrt(float64(base + expHi/(1+exp32(hi-v)))))
	}
}

// shareLatent looks for the rows that Step can compute once: when the
// latents of all rows equal the first and the action rows take at most
// rows/4 distinct values, it writes the distinct (latent, action) rows
// into m.buf.zc and m.buf.ac, the distinct row of each row into m.buf.src,
// and returns their number and m.buf.src. Otherwise it returns rows and
// nil.
func (m *Model) shareLatent(z, a []float32, rows int) (int, []int32) {
	const minRows = 8
	d, A := m.cfg.LatentDim, m.spec.ActionDim
	if rows < minRows {
		return rows, nil
	}
	z0 := z[:d]
	for i := 1; i < rows; i++ {
		zi := z[i*d : (i+1)*d]
		for j, v := range zi {
			if v != z0[j] {
				return rows, nil
			}
		}
	}
	limit := rows / 4
	ac := grow(&m.buf.ac, limit*A)
	src := m.buf.src
	if cap(src) < rows {
		src = make([]int32, rows)
		m.buf.src = src
	}
	src = src[:rows]
	n := 0
rowLoop:
	for i := 0; i < rows; i++ {
		ai := a[i*A : (i+1)*A]
	distinct:
		for k := n - 1; k >= 0; k-- {
			for j, v := range ac[k*A : (k+1)*A] {
				if v != ai[j] {
					continue distinct
				}
			}
			src[i] = int32(k)
			continue rowLoop
		}
		if n == limit {
			return rows, nil
		}
		copy(ac[n*A:(n+1)*A], ai)
		src[i] = int32(n)
		n++
	}
	zc := grow(&m.buf.zc, n*d)
	for k := 0; k < n; k++ {
		copy(zc[k*d:(k+1)*d], z0)
	}
	return n, src
}

// Predict writes the predicted mean μ and the marginal variances
// diag(Σ)_i = σ_i² + Σ_k U_ik² of the next latent for rows (latent,
// action) pairs (rows×d each). The deterministic model predicts no
// spread: its variances are zero. For the mixture they are the mixture's
// overall mean and, by the law of total variance, its variances,
//
//	mean_i = Σ_m π_m μ_mi,   variance_i = Σ_m π_m (σ_mi² + μ_mi²) − mean_i².
//
// variance may be nil.
func (m *Model) Predict(mean, variance, z, a []float32, rows int) {
	d := m.cfg.LatentDim
	checkLen("Predict", "z", z, rows*d)
	checkLen("Predict", "a", a, rows*m.spec.ActionDim)
	checkLen("Predict", "mean", mean, rows*d)
	if variance != nil {
		checkLen("Predict", "variance", variance, rows*d)
	}
	t := m.trunk(z, a, rows)
	if m.cfg.Dynamics == DynamicsMixture {
		m.predictMixtureMoments(mean, variance, t, z, rows)
		return
	}
	m.meanHead(mean, t, z, rows)
	if variance == nil {
		return
	}
	checkLen("Predict", "variance", variance, rows*d)
	variance = variance[:rows*d]
	if m.cfg.Dynamics != DynamicsGaussian {
		clear(variance)
		return
	}
	m.rawVariance(variance, nil, t, rows)
	for i, v := range variance {
		variance[i] = float32(m.variance(v))
	}
	if r := m.cfg.Rank; r > 0 {
		u := grow(&m.buf.u, rows*d*r)
		affine(u, t, rows, m.pred.u)
		for i := range variance {
			for _, f := range u[i*r : (i+1)*r] {
				variance[i] += f * f
			}
		}
	}
}

// rawVariance writes the raw log σ² head into lv and, when factor is not
// nil, the factor U, for trunk output t.
func (m *Model) rawVariance(lv, factor, t []float32, rows int) {
	affine(lv, t, rows, m.pred.logVar)
	if factor != nil && m.cfg.Rank > 0 {
		affine(factor, t, rows, m.pred.u)
	}
}

// valueWith runs value network v on rows latents, split over the cores
// by rows.
func (m *Model) valueWith(v valueNet, dst, z []float32, rows int) {
	grow(&m.buf.v1, rows*v.l1.out)
	grow(&m.buf.v2, rows*v.l2.out)
	m.buf.valueJob = valueJob{m: m, v: v, dst: dst, z: z}
	work := rows * (v.l1.in*v.l1.out + v.l2.in*v.l2.out + v.out.in*v.out.out)
	m.workers().split(rows, 16, work, &m.buf.valueJob)
	m.buf.valueJob = valueJob{}
}

// valueRows writes the value net v's outputs, in the value space, of
// rows lo … hi−1 (their latents z, their outputs dst) with those rows of
// m.buf.v1 and m.buf.v2 as its hidden layers.
func (m *Model) valueRows(v valueNet, dst, z []float32, lo, hi int) {
	n := hi - lo
	v1 := m.buf.v1[lo*v.l1.out : hi*v.l1.out]
	affine(v1, z, n, v.l1)
	relu(v1)
	v2 := m.buf.v2[lo*v.l2.out : hi*v.l2.out]
	affine(v2, v1, n, v.l2)
	relu(v2)
	affine(dst, v2, n, v.out)
}

// valueJob is valueWith on a range of rows.
type valueJob struct {
	m      *Model
	v      valueNet
	dst, z []float32
}

func (j *valueJob) run(lo, hi int) {
	m, v := j.m, j.v
	m.valueRows(v, j.dst[lo*v.out.out:hi*v.out.out], j.z[lo*v.l1.in:hi*v.l1.in], lo, hi)
	m.fromValueSpace(j.dst[lo*v.out.out : hi*v.out.out])
}

// Value writes the learned value V(z) of rows latents into dst (rows).
// Value implements the planner's model interface.
func (m *Model) Value(dst, z []float32, rows int) {
	checkLen("Value", "z", z, rows*m.cfg.LatentDim)
	checkLen("Value", "dst", dst, rows)
	m.valueWith(m.val, dst, z, rows)
}

// Decode writes the probe decoder's picture of rows latents into dst: for
// pixels, frames H×W×3 in [0, 1] in row-major HWC order (the newest frame
// of a stack); for state vectors, the observation vector. The probe
// decoder is trained on detached latents by squared error and serves
// pictures only; its pixels are clamped to [0, 1].
func (m *Model) Decode(dst, z []float32, rows int) {
	n := m.decodeDim()
	checkLen("Decode", "z", z, rows*m.cfg.LatentDim)
	checkLen("Decode", "dst", dst, rows*n)
	d1 := grow(&m.buf.d1, rows*m.dec.l1.out)
	affine(d1, z, rows, m.dec.l1)
	relu(d1)
	affine(dst, d1, rows, m.dec.out)
	if m.spec.Pixels() {
		for i, v := range dst[:rows*n] {
			dst[i] = min(max(v, 0), 1)
		}
	}
}
