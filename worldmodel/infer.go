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
	t1, t2 []float32 // predictor trunk
	lv, u  []float32 // predictor log σ² and factor
	v1, v2 []float32 // value network
	d1     []float32 // decoder

	// Training-time buffers (value targets, calibration, decoder input).
	z, zt, zn, val       []float32
	cand, cz, cr, cc, cv []float32
	target, ret          []float32
	mu, logVar, factor   []float32
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
// word, masks the value out.
func relu(x []float32) {
	for i, v := range x {
		u := math.Float32bits(v)
		x[i] = math.Float32frombits(u &^ uint32(int32(u)>>31))
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
func (m *Model) patchify(dst, obs []float32, rows int) {
	h, w, p := m.spec.Frame[0], m.spec.Frame[1], m.cfg.Patch
	hw := h * w
	channels := 3 * m.spec.Stack
	in := m.spec.InputDim()
	inv := m.norm.inv
	o := 0
	for r := 0; r < rows; r++ {
		x := obs[r*in : (r+1)*in]
		for py := 0; py < m.patchRows; py++ {
			for px := 0; px < m.patchCols; px++ {
				for ch := 0; ch < channels; ch++ {
					plane := x[ch*hw : (ch+1)*hw]
					mean := m.norm.mean[(ch%3)*hw : (ch%3+1)*hw]
					for ky := 0; ky < p; ky++ {
						off := (py*p+ky)*w + px*p
						src, mu := plane[off:off+p], mean[off:off+p]
						for kx, v := range src {
							dst[o] = (v - mu[kx]) * inv
							o++
						}
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

// standardLen is the length of the standardised input of one row.
func (m *Model) standardLen() int {
	if m.spec.Pixels() {
		return m.nPatch * m.patchLen
	}
	return m.spec.InputDim()
}

// encodeStandard runs encoder e on rows standardised input rows x.
func (m *Model) encodeStandard(e encoder, dst, x []float32, rows int) {
	n := rows
	if m.spec.Pixels() {
		n = rows * m.nPatch
	}
	e1 := grow(&m.buf.e1, n*e.first.out)
	affine(e1, x, n, e.first)
	relu(e1)
	affine(dst, e1, rows, e.second)
}

// encodeWith runs encoder e on rows input rows.
func (m *Model) encodeWith(e encoder, dst, obs []float32, rows int) {
	x := grow(&m.buf.in, rows*m.standardLen())
	m.standardize(x, obs, rows)
	m.encodeStandard(e, dst, x, rows)
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
	affine(t1, z, rows, p.inZ)
	affineAdd(t1, a, rows, p.inA)
	relu(t1)
	t2 := grow(&m.buf.t2, rows*p.hidden.out)
	affine(t2, t1, rows, p.hidden)
	relu(t2)
	return t2
}

// mean writes μ = z + Δμ(t) into dst.
func (m *Model) meanHead(dst, t, z []float32, rows int) {
	affine(dst, t, rows, m.pred.mu)
	for i := range dst[:rows*m.cfg.LatentDim] {
		dst[i] += z[i]
	}
}

// heads writes the reward r̂ and the continuation probability
// ĉ = sigmoid(logit) of trunk output t; nil slices are skipped.
func (m *Model) heads(reward, cont, t []float32, rows int) {
	if reward != nil {
		checkLen("Step", "reward", reward, rows)
		affine(reward, t, rows, m.pred.reward)
	}
	if cont != nil {
		checkLen("Step", "cont", cont, rows)
		affine(cont, t, rows, m.pred.cont)
		for i, v := range cont[:rows] {
			cont[i] = float32(sigmoid(float64(v)))
		}
	}
}

// Step predicts one step for rows (latent, action) pairs: the next latent
// into next (rows×d), the reward r̂(z, a) into reward and the probability
// of continuing ĉ(z, a) into cont (rows each; either may be nil). With
// sample false, or for the deterministic model, next is the mean μ; with
// sample true the Gaussian model draws
//
//	z' = μ + σ⊙ε + U·η,   ε ~ N(0, I_d), η ~ N(0, I_r)
//
// from rng, row after row (ε then η). a holds rows×ActionDim values.
// Step implements the planner's model interface.
func (m *Model) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	d := m.cfg.LatentDim
	checkLen("Step", "z", z, rows*d)
	checkLen("Step", "a", a, rows*m.spec.ActionDim)
	checkLen("Step", "next", next, rows*d)
	t := m.trunk(z, a, rows)
	m.meanHead(next, t, z, rows)
	m.heads(reward, cont, t, rows)
	if !sample || m.cfg.Dynamics != DynamicsGaussian {
		return
	}
	lv := grow(&m.buf.lv, rows*d)
	affine(lv, t, rows, m.pred.logVar)
	r := m.cfg.Rank
	var u []float32
	if r > 0 {
		u = grow(&m.buf.u, rows*d*r)
		affine(u, t, rows, m.pred.u)
	}
	for i := 0; i < rows; i++ {
		row := next[i*d : (i+1)*d]
		for j := range row {
			row[j] += float32(math.Sqrt(m.variance(lv[i*d+j])) * rng.NormFloat64())
		}
		if r == 0 {
			continue
		}
		ui := u[i*d*r : (i+1)*d*r]
		for k := 0; k < r; k++ {
			eta := float32(rng.NormFloat64())
			for j := range row {
				row[j] += ui[j*r+k] * eta
			}
		}
	}
}

// Predict writes the predicted mean μ and the marginal variances
// diag(Σ)_i = σ_i² + Σ_k U_ik² of the next latent for rows (latent,
// action) pairs (rows×d each). The deterministic model predicts no
// spread: its variances are zero. variance may be nil.
func (m *Model) Predict(mean, variance, z, a []float32, rows int) {
	d := m.cfg.LatentDim
	checkLen("Predict", "z", z, rows*d)
	checkLen("Predict", "a", a, rows*m.spec.ActionDim)
	checkLen("Predict", "mean", mean, rows*d)
	t := m.trunk(z, a, rows)
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

// valueWith runs value network v.
func (m *Model) valueWith(v valueNet, dst, z []float32, rows int) {
	v1 := grow(&m.buf.v1, rows*v.l1.out)
	affine(v1, z, rows, v.l1)
	relu(v1)
	v2 := grow(&m.buf.v2, rows*v.l2.out)
	affine(v2, v1, rows, v.l2)
	relu(v2)
	affine(dst, v2, rows, v.out)
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
