package worldmodel

import (
	"fmt"
	"hash"
	"math"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/dreamrl/dream/worldmodel/loss"
)

// The mixture dynamics (the GJE paper's GMJE): the predictor's trunk t
// feeds M components,
//
//	π      = (1 − M f)·softmax(W_π t + b_π) + f      mixing weights, floor f
//	μ_m    = z + Δμ_m(t)                             component means
//	σ_m²   = exp(softBound(raw_m(t))) + floor        diagonal variances
//
// trained by ℓ = −log Σ_m π_m N(z̄; μ_m, diag(σ_m²)) − c·H(π). The
// imagined rollout and the planner's mean path follow the most likely
// component's mean μ_c, c = argmax_m π_m; sampling draws c ~ π, then
// μ_c + σ_c ⊙ ε.

// mixtureSpread is the half-width of the uniform draw of each component's
// Δμ bias at initialisation, in latent units (the collapse guard keeps
// the embeddings near unit variance per coordinate).
const mixtureSpread = 2.0

// spreadDraws is the number of draws spreadComponents chooses from.
const spreadDraws = 16

// spreadComponents writes the initial Δμ biases of m components (m blocks
// of d = len(dst)/m values): of spreadDraws draws of all m blocks from
// U(−mixtureSpread, mixtureSpread)^d, the one whose closest two blocks are
// farthest apart. Components that start apart each take their own outcome;
// components that start together tend to end as one broad component over
// several outcomes and dead ones beside it (DESIGN.md, "Mixtures collapse
// without help"). In a low-dimensional latent space one draw is often
// unlucky; in a high-dimensional one all draws are alike.
func spreadComponents(dst []float32, m int, rng *rand.Rand) {
	d := len(dst) / m
	draw := make([]float32, len(dst))
	best := -1.0
	for range spreadDraws {
		for i := range draw {
			draw[i] = float32(mixtureSpread * (2*rng.Float64() - 1))
		}
		closest := math.Inf(1)
		for a := 0; a < m; a++ {
			for b := a + 1; b < m; b++ {
				var s float64
				for i := 0; i < d; i++ {
					x := float64(draw[a*d+i] - draw[b*d+i])
					s += x * x
				}
				closest = min(closest, s)
			}
		}
		if closest > best {
			best = closest
			copy(dst, draw)
		}
	}
}

// pickComponent returns a mixture component of one row from its logits:
// with u < 0 the most likely one (the first largest logit; the floor does
// not change the order), otherwise the component whose cumulative weight
// π = (1 − M f)·softmax(logits) + f first exceeds u ∈ [0, 1) (the last
// if rounding leaves u beyond the sum). It allocates nothing.
func pickComponent(logits []float32, floor, u float64) int {
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	if u < 0 {
		return best
	}
	mx := float64(logits[best])
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	a := (1 - float64(len(logits))*floor) / sum
	var cum float64
	for j, v := range logits {
		cum += a*math.Exp(float64(v)-mx) + floor
		if u < cum {
			return j
		}
	}
	return len(logits) - 1
}

// mixtureWeights writes the weights π = (1 − M f)·softmax(logits) + f of
// one row into pi.
func mixtureWeights(pi []float64, logits []float32, floor float64) {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var sum float64
	for j, v := range logits {
		pi[j] = math.Exp(float64(v) - mx)
		sum += pi[j]
	}
	a := (1 - float64(len(logits))*floor) / sum
	for j := range pi[:len(logits)] {
		pi[j] = a*pi[j] + floor
	}
}

// mixtureNodes are the mixture heads of one rollout step: the component
// means (B×M·d), their effective log-variances (B×M·d) and the mixing
// logits (B×M).
type mixtureNodes struct {
	mus, logVars, logits *G.Node
}

// graphMixture builds the mixture heads on trunk output t for latents
// zhat: μ_m = zhat + Δμ_m as one fused layer whose residual is zhat
// repeated M times.
func (m *Model) graphMixture(b graphBuilder, t, zhat *G.Node) mixtureNodes {
	p := m.pred
	mus := dense(b.pool, []*G.Node{t, p.mu.w.node}, p.mu.b.node, tile(zhat, m.cfg.Components), false)
	return mixtureNodes{
		mus:     mus,
		logVars: m.graphLogVar(b, t),
		logits:  b.affine(t, p.logits, false),
	}
}

// graphMixtureLoss returns the mixture's NLL of target (mean over rows)
// and, when the config has an entropy bonus, the mean entropy of the
// weights (nil otherwise). Rows whose gate is 0 (after a terminal step)
// get every component's mean at the target, unit variances and equal
// weights: a constant loss without gradient.
func (m *Model) graphMixtureLoss(x mixtureNodes, target, gate *G.Node) (nll, entropy *G.Node) {
	M := m.cfg.Components
	floor, bonus := m.cfg.mixtureOptions()
	opts := loss.MixtureOptions{MinWeight: floor, Beta: m.cfg.BetaNLL}
	logits := rowGate(x.logits, gate, nil)
	nll = must(loss.MixtureNLL(target, logits, rowGate(x.mus, gate, tile(target, M)), rowGate(x.logVars, gate, nil), M, opts))
	if bonus > 0 {
		entropy = must(loss.MixtureEntropy(logits, M, opts))
	}
	return nll, entropy
}

// graphMixtureMode is the most likely component's mean of each row.
func (m *Model) graphMixtureMode(x mixtureNodes) *G.Node {
	return m.pick(false, x.mus, x.logits)
}

// graphMixtureSample is a reparameterised sample of each row's mixture:
// the component drawn by π at the uniforms u (B×1), then μ_c + σ_c ⊙ eps
// (eps B×d).
func (m *Model) graphMixtureSample(x mixtureNodes, u, eps *G.Node) *G.Node {
	return m.pick(true, x.mus, x.logits, x.logVars, u, eps)
}

func (m *Model) pick(sample bool, inputs ...*G.Node) *G.Node {
	sh := inputs[0].Shape()
	floor, _ := m.cfg.mixtureOptions()
	op := pickOp{rows: sh[0], d: m.cfg.LatentDim, m: m.cfg.Components, floor: floor, sample: sample}
	op.out = newMatrix(op.rows, op.d)
	return must(G.ApplyOp(op, inputs...))
}

// tileOp repeats x (rows×d) m times side by side, y = [x x … x] (rows×m·d);
// with sum set it is the gradient's reverse, y = Σ_k x_k over the m blocks
// of x (rows×m·d → rows×d).
type tileOp struct {
	rows, d, m int
	sum        bool
	out        *tensor.Dense
}

func tile(x *G.Node, m int) *G.Node {
	sh := x.Shape()
	op := tileOp{rows: sh[0], d: sh[1], m: m, out: newMatrix(sh[0], m*sh[1])}
	return must(G.ApplyOp(op, x))
}

func (op tileOp) Arity() int    { return 1 }
func (op tileOp) Type() hm.Type { return fnType(1) }
func (op tileOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.sum {
		return tensor.Shape{op.rows, op.d}, nil
	}
	return tensor.Shape{op.rows, op.m * op.d}, nil
}
func (op tileOp) Do(vals ...G.Value) (G.Value, error) {
	x, y := data(vals[0]), op.out.Float32s()
	d, w := op.d, op.m*op.d
	for r := 0; r < op.rows; r++ {
		if op.sum {
			row := y[r*d : (r+1)*d]
			copy(row, x[r*w:r*w+d])
			for k := 1; k < op.m; k++ {
				for i, v := range x[r*w+k*d : r*w+(k+1)*d] {
					row[i] += v
				}
			}
			continue
		}
		for k := 0; k < op.m; k++ {
			copy(y[r*w+k*d:r*w+(k+1)*d], x[r*d:(r+1)*d])
		}
	}
	return op.out, nil
}
func (op tileOp) DiffWRT(n int) []bool { return []bool{!op.sum} }
func (op tileOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	s := tileOp{rows: op.rows, d: op.d, m: op.m, sum: true, out: newMatrix(op.rows, op.d)}
	return G.Nodes{must(G.ApplyOp(s, grad))}, nil
}
func (op tileOp) ReturnsPtr() bool      { return false }
func (op tileOp) CallsExtern() bool     { return false }
func (op tileOp) OverwritesInput() int  { return -1 }
func (op tileOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op tileOp) Hashcode() uint32      { return hashString(op.String()) }
func (op tileOp) String() string {
	return fmt.Sprintf("Tile(%d×%d, %d, sum %v)", op.rows, op.d, op.m, op.sum)
}

// pickOp takes one component per row of a mixture's heads,
//
//	y = μ_c                          (mode: c the most likely component)
//	y = μ_c + exp(½ log σ_c²) ⊙ ε    (sample: c drawn by π at u)
//
// with inputs mus (rows×m·d), logits (rows×m) and, to sample, logVars
// (rows×m·d), u (rows×1, uniform on [0, 1)) and eps (rows×d). The choice
// of c is not differentiated: the gradient flows to the chosen
// component's mean and log-variance only. With wrt > 0 the op is that
// gradient, taking the forward inputs followed by ∂L/∂y: by mus (wrt 1,
// ∂L/∂μ_c = ∂L/∂y) or by logVars (wrt 2, ∂L/∂log σ_c² = ∂L/∂y ⊙ ε ⊙ ½σ_c).
type pickOp struct {
	rows, d, m int
	floor      float64
	sample     bool
	wrt        int
	out        *tensor.Dense
}

func (op pickOp) inputs() int {
	if op.sample {
		return 5
	}
	return 2
}

func (op pickOp) Arity() int {
	if op.wrt > 0 {
		return op.inputs() + 1
	}
	return op.inputs()
}
func (op pickOp) Type() hm.Type { return fnType(op.Arity()) }
func (op pickOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.wrt > 0 {
		return tensor.Shape{op.rows, op.m * op.d}, nil
	}
	return tensor.Shape{op.rows, op.d}, nil
}

func (op pickOp) Do(vals ...G.Value) (G.Value, error) {
	d, w := op.d, op.m*op.d
	mus, logits := data(vals[0]), data(vals[1])
	var lv, u, eps, g []float32
	if op.sample {
		lv, u, eps = data(vals[2]), data(vals[3]), data(vals[4])
	}
	if op.wrt > 0 {
		g = data(vals[len(vals)-1])
	}
	y := op.out.Float32s()
	if op.wrt > 0 {
		clear(y)
	}
	for r := 0; r < op.rows; r++ {
		at := -1.0
		if op.sample {
			at = float64(u[r])
		}
		c := pickComponent(logits[r*op.m:(r+1)*op.m], op.floor, at)
		off := r*w + c*d
		switch op.wrt {
		case 0:
			row := y[r*d : (r+1)*d]
			copy(row, mus[off:off+d])
			if op.sample {
				for i := range row {
					row[i] += float32(math.Exp(0.5*float64(lv[off+i]))) * eps[r*d+i]
				}
			}
		case 1:
			copy(y[off:off+d], g[r*d:(r+1)*d])
		case 2:
			for i := 0; i < d; i++ {
				sd := math.Exp(0.5 * float64(lv[off+i]))
				y[off+i] = float32(float64(g[r*d+i]) * float64(eps[r*d+i]) * 0.5 * sd)
			}
		}
	}
	return op.out, nil
}

func (op pickOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if op.wrt == 0 {
		d[0] = true
		if op.sample {
			d[2] = true
		}
	}
	return d
}

func (op pickOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(inputs))
	args := append(append(G.Nodes(nil), inputs...), grad)
	gradOp := func(wrt int) *G.Node {
		g := op
		g.wrt = wrt
		g.out = newMatrix(op.rows, op.m*op.d)
		return must(G.ApplyOp(g, args...))
	}
	out[0] = gradOp(1)
	if op.sample {
		out[2] = gradOp(2)
	}
	return out, nil
}

func (op pickOp) ReturnsPtr() bool      { return false }
func (op pickOp) CallsExtern() bool     { return false }
func (op pickOp) OverwritesInput() int  { return -1 }
func (op pickOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op pickOp) Hashcode() uint32      { return hashString(op.String()) }
func (op pickOp) String() string {
	return fmt.Sprintf("MixturePick(%d×%d, M %d, floor %g, sample %v, wrt %d)", op.rows, op.d, op.m, op.floor, op.sample, op.wrt)
}

// mixtureRows finishes Step for the mixture: for each row it picks the
// component (the most likely, or drawn by noise's u with pick), writes
// μ_c (+ σ_c⊙ε with noisy) into next and the reward and continuation heads. h holds
// the packed heads of the computed rows (see packHeads), src the computed
// row of each row (nil: row i is row i).
func (m *Model) mixtureRows(next, reward, cont, z, h, noise []float32, src []int32, rows, period, w int, pick, noisy bool) {
	d, M := m.cfg.LatentDim, m.cfg.Components
	floor, _ := m.cfg.mixtureOptions()
	sample := pick && noisy
	lo := M * d // first logit column
	stride := 1 // noise per row: u, then ε when sampling
	if sample {
		lo, stride = 2*M*d, d+1
	}
	// σ = √variance(raw) in float32 with exp32, as sigmas computes it.
	base := float32(m.expLo + m.cfg.VarFloor)
	expHi, hi := float32(m.expHi), float32(m.cfg.MaxLogVar)
	for i := 0; i < rows; i++ {
		k := i
		if src != nil {
			k = int(src[i])
		}
		hk := h[k*w : (k+1)*w]
		u, e := -1.0, i%period
		if pick {
			u = float64(noise[e*stride])
		}
		c := pickComponent(hk[lo:lo+M], floor, u)
		row, zi := next[i*d:(i+1)*d], z[i*d:(i+1)*d]
		for j, dm := range hk[c*d : (c+1)*d] {
			row[j] = zi[j] + dm
		}
		if sample {
			eps := noise[e*(d+1)+1 : (e+1)*(d+1)]
			for j, v := range hk[(M+c)*d : (M+c+1)*d] {
				row[j] += float32(math.Sqrt(float64(base+expHi/(1+exp32(hi-v))))) * eps[j]
			}
		}
		if reward != nil {
			reward[i] = hk[w-2]
		}
		if cont != nil {
			cont[i] = float32(sigmoid(float64(hk[w-1])))
		}
	}
}

// predictMixtureMoments writes the mixture's overall mean and, when
// variance is not nil, its per-dimension variance (law of total variance)
// for trunk output t of latents z (see Predict).
func (m *Model) predictMixtureMoments(mean, variance, t, z []float32, rows int) {
	d, M := m.cfg.LatentDim, m.cfg.Components
	floor, _ := m.cfg.mixtureOptions()
	dm := grow(&m.buf.mixMu, rows*M*d)
	affine(dm, t, rows, m.pred.mu)
	lg := grow(&m.buf.mixLogits, rows*M)
	affine(lg, t, rows, m.pred.logits)
	var lv []float32
	if variance != nil {
		lv = grow(&m.buf.mixLogVar, rows*M*d)
		affine(lv, t, rows, m.pred.logVar)
	}
	var buf [maxComponents]float64 // on the stack: Predict allocates nothing
	pi := buf[:M]
	for r := 0; r < rows; r++ {
		mixtureWeights(pi, lg[r*M:(r+1)*M], floor)
		// The moments of Δμ: the variance does not depend on the shift z.
		for i := 0; i < d; i++ {
			var mu, second float64
			for k, p := range pi {
				x := float64(dm[(r*M+k)*d+i])
				mu += p * x
				if lv != nil {
					second += p * (m.variance(lv[(r*M+k)*d+i]) + x*x)
				}
			}
			mean[r*d+i] = z[r*d+i] + float32(mu)
			if lv != nil {
				variance[r*d+i] = float32(max(second-mu*mu, 0))
			}
		}
	}
}

// predictMixture writes every component of the predicted mixtures of rows
// (latent, action) pairs: the weights π (rows×M), the means μ_m = z + Δμ_m
// and the effective log-variances log(exp(softBound(raw)) + floor)
// (rows×M·d each, component m of row r at (r·M+m)·d).
func (m *Model) predictMixture(weights, mus, logVars, z, a []float32, rows int) {
	d, M := m.cfg.LatentDim, m.cfg.Components
	floor, _ := m.cfg.mixtureOptions()
	t := m.trunk(z, a, rows)
	affine(mus, t, rows, m.pred.mu)
	affine(logVars, t, rows, m.pred.logVar)
	lg := grow(&m.buf.mixLogits, rows*M)
	affine(lg, t, rows, m.pred.logits)
	var buf [maxComponents]float64
	pi := buf[:M]
	for r := 0; r < rows; r++ {
		mixtureWeights(pi, lg[r*M:(r+1)*M], floor)
		for k, p := range pi {
			weights[r*M+k] = float32(p)
			mu := mus[(r*M+k)*d : (r*M+k+1)*d]
			for i, v := range z[r*d : (r+1)*d] {
				mu[i] += v
			}
		}
	}
	for i, v := range logVars[:rows*M*d] {
		logVars[i] = float32(math.Log(m.variance(v)))
	}
}
