package loss

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// log2Pi is ln(2π), the per-dimension constant of the Gaussian log-density.
const log2Pi = 1.8378770664093454835606594728112

// NLLOptions configures GaussianNLL; the zero value is the plain NLL.
type NLLOptions struct {
	// Beta is β of β-NLL (Seitzer et al. 2022, "On the pitfalls of
	// heteroscedastic uncertainty estimation with probabilistic neural
	// networks"): each dimension's term is weighted by the stop-gradient of
	// its variance to the power β. 0 is the plain NLL, 0.5 the paper's
	// recommendation, 1 gives the mean the gradient of a squared error.
	//
	// With a low-rank factor (r > 0) the NLL does not split into
	// per-dimension terms, so the weights use the marginal variances
	// Σ_ii = σ_i² + ‖U_i‖² (U_i the i-th row of U) and enter as
	//
	//	ℓ_β = ½ [ ẽᵀ Σ⁻¹ ẽ + Σ_i w_i (log σ_i² + log 2π) + w̄ log det C ]
	//	ẽ_i = √w_i (z̄_i − μ_i),   w_i = sg(Σ_ii)^β,   w̄ = (1/d) Σ_i w_i
	//
	// where sg is the stop-gradient and C = I_r + Uᵀ D⁻¹ U is the
	// capacitance of GaussianNLL. For r = 0 (C = I) this is exactly
	// Σ_i w_i ℓ_i, the paper's loss, with ℓ_i = ½ [(z̄_i−μ_i)²/σ_i² +
	// log σ_i² + log 2π]; for β = 0 it is the plain NLL.
	Beta float64
}

// GaussianNLL returns a scalar node: the mean over the B rows of the
// negative log-likelihood of the target under the predicted Gaussian,
//
//	ℓ = ½ [ (z̄−μ)ᵀ Σ⁻¹ (z̄−μ) + log det Σ + d log 2π ]
//	Σ = D + U Uᵀ,   D = diag(exp(logVar))
//
// where z̄ (target), μ (mu) and logVar are the rows of B×d nodes and U is
// the d×r factor of the row: factor is B×(d·r) and its row b holds U_b
// row-major (U_b[i][k] at column i·r+k). factor is nil when rank is 0, and
// Σ is then diagonal.
//
// For r > 0 the inverse and the determinant come from Woodbury's identity
// and the matrix determinant lemma with the r×r capacitance C, factored by
// Cholesky, never from a d×d matrix; a row costs O(d·r²):
//
//	C = I_r + Uᵀ D⁻¹ U
//	Σ⁻¹ = D⁻¹ − D⁻¹ U C⁻¹ Uᵀ D⁻¹
//	log det Σ = Σ_i logVar_i + log det C
//
// opts.Beta selects β-NLL (see NLLOptions). The node is one fused op; its
// gradient is a second fused op that computes the gradients of all inputs
// (target included) in one pass. The graph may be Float32 or Float64.
func GaussianNLL(target, mu, logVar, factor *gorgonia.Node, rank int, opts NLLOptions) (*gorgonia.Node, error) {
	if target == nil || mu == nil || logVar == nil {
		return nil, fmt.Errorf("loss: GaussianNLL: target, mu and logVar are required: %w", ErrShape)
	}
	if opts.Beta < 0 || math.IsNaN(opts.Beta) || math.IsInf(opts.Beta, 0) {
		return nil, fmt.Errorf("loss: GaussianNLL: β = %v, want finite ≥ 0: %w", opts.Beta, ErrOption)
	}
	if rank < 0 {
		return nil, fmt.Errorf("loss: GaussianNLL: rank %d < 0: %w", rank, ErrOption)
	}
	b, d, err := matrixShape("GaussianNLL", "target", target)
	if err != nil {
		return nil, err
	}
	for _, in := range []struct {
		name string
		n    *gorgonia.Node
	}{{"mu", mu}, {"logVar", logVar}} {
		if err := sameShape("GaussianNLL", in.name, in.n, b, d); err != nil {
			return nil, err
		}
	}
	k := nllKernel{b: b, d: d, r: rank, beta: opts.Beta}
	if rank == 0 {
		if factor != nil {
			return nil, fmt.Errorf("loss: GaussianNLL: factor given with rank 0: %w", ErrShape)
		}
		return applyLoss(k, target, mu, logVar)
	}
	if factor == nil {
		return nil, fmt.Errorf("loss: GaussianNLL: rank %d needs a factor: %w", rank, ErrShape)
	}
	if err := sameShape("GaussianNLL", "factor", factor, b, d*rank); err != nil {
		return nil, err
	}
	return applyLoss(k, target, mu, logVar, factor)
}

// matrixShape returns the rows and columns of a 2-D node.
func matrixShape(fn, name string, n *gorgonia.Node) (rows, cols int, err error) {
	sh := n.Shape()
	if sh.Dims() != 2 {
		return 0, 0, fmt.Errorf("loss: %s: %s has shape %v, want a matrix: %w", fn, name, sh, ErrShape)
	}
	return sh[0], sh[1], nil
}

// sameShape checks that n is a rows×cols matrix.
func sameShape(fn, name string, n *gorgonia.Node, rows, cols int) error {
	if n == nil {
		return fmt.Errorf("loss: %s: %s is nil: %w", fn, name, ErrShape)
	}
	sh := n.Shape()
	if sh.Dims() != 2 || sh[0] != rows || sh[1] != cols {
		return fmt.Errorf("loss: %s: %s has shape %v, want (%d, %d): %w", fn, name, sh, rows, cols, ErrShape)
	}
	return nil
}

// RowNLL returns the negative log-likelihood ℓ of one row, the same math as
// GaussianNLL (β = 0):
//
//	ℓ = ½ [ (z̄−μ)ᵀ Σ⁻¹ (z̄−μ) + log det Σ + d log 2π ],  Σ = diag(exp(logVar)) + U Uᵀ
//
// target, mu and logVar hold d values; logVar nil means logVar = 0 (unit
// variances). factor holds U (d×r, row-major) or is nil when r is 0. It does
// not allocate for r ≤ 6. It panics if the lengths disagree.
func RowNLL(target, mu, logVar, factor []float64, r int) float64 {
	d := len(target)
	if len(mu) != d || (logVar != nil && len(logVar) != d) || len(factor) != d*r {
		panic(fmt.Sprintf("loss: RowNLL: lengths target %d, mu %d, logVar %d, factor %d for r = %d", d, len(mu), len(logVar), len(factor), r))
	}
	var buf [48]float64
	work := buf[:]
	if n := nllLossWork(r); n > len(buf) {
		work = make([]float64, n)
	}
	return nllRowLoss(target, mu, logVar, factor, r, 0, work)
}

// nllKernel is GaussianNLL over B rows of dimension d and factor rank r.
type nllKernel struct {
	b, d, r int
	beta    float64
}

func (k nllKernel) String() string {
	return fmt.Sprintf("GaussianNLL{B=%d d=%d r=%d β=%g}", k.b, k.d, k.r, k.beta)
}

func (k nllKernel) workLen() int { return max(nllLossWork(k.r), nllGradWork(k.d, k.r)) }

func nllLossWork(r int) int    { return r*r + 2*r }
func nllGradWork(d, r int) int { return 4*d + 3*r*r + 5*r }

func (k nllKernel) factor(in [][]float64, b int) []float64 {
	if k.r == 0 {
		return nil
	}
	n := k.d * k.r
	return in[3][b*n : (b+1)*n]
}

func (k nllKernel) loss(in [][]float64, work []float64) float64 {
	d := k.d
	var sum float64
	for b := range k.b {
		row := b * d
		sum += nllRowLoss(in[0][row:row+d], in[1][row:row+d], in[2][row:row+d], k.factor(in, b), k.r, k.beta, work)
	}
	return sum / float64(k.b)
}

func (k nllKernel) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	d := k.d
	g /= float64(k.b)
	for b := range k.b {
		row := b * d
		var gu []float64
		if k.r > 0 {
			n := d * k.r
			gu = out[3][b*n : (b+1)*n]
		}
		nllRowGrad(in[0][row:row+d], in[1][row:row+d], in[2][row:row+d], k.factor(in, b), k.r, k.beta, g,
			out[0][row:row+d], out[1][row:row+d], out[2][row:row+d], gu, work)
	}
}

// nllWeight returns the β-NLL weight w = m^β of a dimension with marginal
// variance m = exp(s) + ‖u‖², s its log-variance, inv = exp(−s) and u its
// factor row.
func nllWeight(s, inv float64, u []float64, beta float64) float64 {
	if beta == 0 {
		return 1
	}
	if len(u) == 0 {
		if beta == 1 {
			return 1 / inv // exp(s) without a second exponential
		}
		return math.Exp(beta * s)
	}
	m := math.Exp(s)
	for _, x := range u {
		m += x * x
	}
	return math.Pow(m, beta)
}

// nllRowLoss returns ℓ_β of one row (see NLLOptions); s nil means zeros.
// work holds at least nllLossWork(r) values.
func nllRowLoss(z, mu, s, u []float64, r int, beta float64, work []float64) float64 {
	d := len(z)
	c := work[:r*r]
	v := work[r*r : r*r+r]
	y := work[r*r+r : r*r+2*r]
	clear(c)
	clear(v)
	for a := range r {
		c[a*r+a] = 1
	}
	var quad, logSum, wSum float64
	for i := range d {
		var si float64
		if s != nil {
			si = s[i]
		}
		inv := math.Exp(-si)
		var ui []float64
		if r > 0 {
			ui = u[i*r : (i+1)*r]
		}
		w := nllWeight(si, inv, ui, beta)
		e := z[i] - mu[i]
		if beta != 0 {
			e *= math.Sqrt(w)
		}
		quad += e * e * inv
		logSum += w * (si + log2Pi)
		wSum += w
		for a, ua := range ui {
			ia := inv * ua
			v[a] += ia * e
			for bb := range a + 1 {
				c[a*r+bb] += ia * ui[bb]
			}
		}
	}
	if r == 0 {
		return 0.5 * (quad + logSum)
	}
	logDetC := cholesky(c, r)
	forwardSolve(c, r, v, y)
	for _, x := range y {
		quad -= x * x
	}
	return 0.5 * (quad + logSum + wSum/float64(d)*logDetC)
}

// nllRowGrad returns ℓ_β of one row and writes g times its gradients with
// respect to z, μ, s and U (the weights w held constant):
//
//	α = Σ⁻¹ ẽ,   P = U C⁻¹,   t_i = U_i · P_i
//	∂ℓ/∂z_i = √w_i α_i = −∂ℓ/∂μ_i
//	∂ℓ/∂s_i = ½ [ w_i − α_i² σ_i² − w̄ t_i / σ_i² ]
//	∂ℓ/∂U   = −α (Uᵀα)ᵀ + w̄ D⁻¹ P
//
// work holds at least nllGradWork(d, r) values.
func nllRowGrad(z, mu, s, u []float64, r int, beta, g float64, gz, gmu, gs, gu []float64, work []float64) float64 {
	d := len(z)
	inv, work := work[:d], work[d:]
	wt, work := work[:d], work[d:]
	et, work := work[:d], work[d:]
	alpha, work := work[:d], work[d:]
	c, work := work[:r*r], work[r*r:]
	linv, work := work[:r*r], work[r*r:]
	cinv, work := work[:r*r], work[r*r:]
	v, work := work[:r], work[r:]
	y, work := work[:r], work[r:]
	cv, work := work[:r], work[r:]
	ua, p := work[:r], work[r:2*r]
	clear(c)
	clear(v)
	for a := range r {
		c[a*r+a] = 1
	}
	var quad, logSum, wSum float64
	for i := range d {
		inv[i] = math.Exp(-s[i])
		var ui []float64
		if r > 0 {
			ui = u[i*r : (i+1)*r]
		}
		w := nllWeight(s[i], inv[i], ui, beta)
		wt[i] = w
		e := z[i] - mu[i]
		if beta != 0 {
			e *= math.Sqrt(w)
		}
		et[i] = e
		quad += e * e * inv[i]
		logSum += w * (s[i] + log2Pi)
		wSum += w
		for a, uia := range ui {
			ia := inv[i] * uia
			v[a] += ia * e
			for bb := range a + 1 {
				c[a*r+bb] += ia * ui[bb]
			}
		}
	}
	if r == 0 {
		for i := range d {
			a := et[i] * inv[i]
			gzi := g * a
			if beta != 0 {
				gzi *= math.Sqrt(wt[i])
			}
			gz[i] = gzi
			gmu[i] = -gzi
			gs[i] = 0.5 * g * (wt[i] - a*et[i])
		}
		return 0.5 * (quad + logSum)
	}
	wBar := wSum / float64(d)
	logDetC := cholesky(c, r)
	forwardSolve(c, r, v, y)
	backSolve(c, r, y, cv)
	for _, x := range y {
		quad -= x * x
	}
	lowerInverse(c, r, linv)
	for a := range r {
		for bb := range a + 1 {
			var sum float64
			for k := a; k < r; k++ {
				sum += linv[k*r+a] * linv[k*r+bb]
			}
			cinv[a*r+bb] = sum
			cinv[bb*r+a] = sum
		}
	}
	clear(ua)
	for i := range d {
		ui := u[i*r : (i+1)*r]
		var dot float64
		for a, x := range ui {
			dot += x * cv[a]
		}
		alpha[i] = (et[i] - dot) * inv[i]
		for a, x := range ui {
			ua[a] += alpha[i] * x
		}
	}
	for i := range d {
		ui := u[i*r : (i+1)*r]
		gui := gu[i*r : (i+1)*r]
		var t float64
		for a := range r {
			var sum float64
			for bb, x := range ui {
				sum += x * cinv[bb*r+a]
			}
			p[a] = sum
			t += ui[a] * sum
		}
		ai := alpha[i]
		gzi := g * ai
		if beta != 0 {
			gzi *= math.Sqrt(wt[i])
		}
		gz[i] = gzi
		gmu[i] = -gzi
		gs[i] = 0.5 * g * (wt[i] - ai*ai/inv[i] - wBar*t*inv[i])
		for a := range r {
			gui[a] = g * (wBar*inv[i]*p[a] - ai*ua[a])
		}
	}
	return 0.5 * (quad + logSum + wBar*logDetC)
}

// cholesky factors the symmetric positive definite r×r matrix whose lower
// triangle is in a (row-major) as L Lᵀ, writing L over that triangle, and
// returns log det = 2 Σ_j log L_jj (NaN if a is not positive definite).
func cholesky(a []float64, r int) float64 {
	var logDet float64
	for j := range r {
		sum := a[j*r+j]
		for k := range j {
			sum -= a[j*r+k] * a[j*r+k]
		}
		if !(sum > 0) {
			return math.NaN()
		}
		ljj := math.Sqrt(sum)
		a[j*r+j] = ljj
		logDet += 2 * math.Log(ljj)
		for i := j + 1; i < r; i++ {
			s := a[i*r+j]
			for k := range j {
				s -= a[i*r+k] * a[j*r+k]
			}
			a[i*r+j] = s / ljj
		}
	}
	return logDet
}

// forwardSolve solves L y = v for the lower-triangular r×r L in l.
func forwardSolve(l []float64, r int, v, y []float64) {
	for i := range r {
		s := v[i]
		for k := range i {
			s -= l[i*r+k] * y[k]
		}
		y[i] = s / l[i*r+i]
	}
}

// backSolve solves Lᵀ x = y for the lower-triangular r×r L in l.
func backSolve(l []float64, r int, y, x []float64) {
	for i := r - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < r; k++ {
			s -= l[k*r+i] * x[k]
		}
		x[i] = s / l[i*r+i]
	}
}

// lowerInverse writes the inverse of the lower-triangular r×r L in l into
// inv (lower triangle; the upper triangle is zeroed).
func lowerInverse(l []float64, r int, inv []float64) {
	clear(inv)
	for j := range r {
		inv[j*r+j] = 1 / l[j*r+j]
		for i := j + 1; i < r; i++ {
			var s float64
			for k := j; k < i; k++ {
				s += l[i*r+k] * inv[k*r+j]
			}
			inv[i*r+j] = -s / l[i*r+i]
		}
	}
}
