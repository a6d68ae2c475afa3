package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/gorgonia"
)

// VICRegOptions configures VICReg. The zero value means the defaults of
// Bardes et al. (2022).
type VICRegOptions struct {
	// Gamma is the target standard deviation γ of every dimension;
	// 0 means 1.
	Gamma float64
	// Eps is ε inside sqrt(Var + ε), which keeps the gradient finite at
	// zero variance; 0 means 1e-4.
	Eps float64
	// VarWeight scales the variance term; 0 means 1, a negative value
	// switches the term off.
	VarWeight float64
	// CovWeight scales the covariance term; 0 means VarWeight/25, the
	// paper's ratio (invariance 25 : variance 25 : covariance 1), a
	// negative value switches the term off.
	CovWeight float64
}

// resolved returns the options with the defaults filled in and switched-off
// terms at weight 0.
func (o VICRegOptions) resolved() VICRegOptions {
	if o.Gamma == 0 {
		o.Gamma = 1
	}
	if o.Eps == 0 {
		o.Eps = 1e-4
	}
	switch {
	case o.VarWeight == 0:
		o.VarWeight = 1
	case o.VarWeight < 0:
		o.VarWeight = 0
	}
	switch {
	case o.CovWeight == 0:
		o.CovWeight = o.VarWeight / 25
	case o.CovWeight < 0:
		o.CovWeight = 0
	}
	return o
}

// VICReg returns the variance and covariance terms of VICReg (Bardes,
// Ponce & LeCun 2022, "VICReg: Variance-Invariance-Covariance
// Regularization for Self-Supervised Learning") of the batch z (N×d, N ≥ 2)
// as a scalar node:
//
//	v(z) = (1/d) Σ_j max(0, γ − sqrt(Var(z_j) + ε))
//	c(z) = (1/d) Σ_{i≠j} Cov(z)_ij²
//	VICReg = VarWeight · v(z) + CovWeight · c(z)
//
// where z_j is the j-th column and Var and Cov are the unbiased sample
// variance and covariance over the N rows (divisor N − 1, as in the
// paper's code). The invariance term is the prediction loss and is not
// included. At the hinge (γ = sqrt(Var + ε)) the gradient of the variance
// term is taken as 0. The node is one fused op.
func VICReg(z *gorgonia.Node, opts VICRegOptions) (*gorgonia.Node, error) {
	if z == nil {
		return nil, fmt.Errorf("loss: VICReg: z is nil: %w", ErrShape)
	}
	n, d, err := matrixShape("VICReg", "z", z)
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, fmt.Errorf("loss: VICReg: batch of %d rows, want ≥ 2: %w", n, ErrShape)
	}
	o := opts.resolved()
	if !(o.Gamma > 0) || !(o.Eps > 0) || math.IsInf(o.Gamma, 0) || math.IsInf(o.Eps, 0) ||
		math.IsNaN(o.VarWeight) || math.IsNaN(o.CovWeight) || math.IsInf(o.VarWeight, 0) || math.IsInf(o.CovWeight, 0) {
		return nil, fmt.Errorf("loss: VICReg: options %+v out of range (γ > 0, ε > 0, finite weights): %w", opts, ErrOption)
	}
	return applyLoss(vicRegKernel{n: n, d: d, o: o}, z)
}

// vicRegKernel is VICReg of an N×d batch.
type vicRegKernel struct {
	n, d int
	o    VICRegOptions // resolved
}

func (k vicRegKernel) String() string {
	return fmt.Sprintf("VICReg{N=%d d=%d γ=%g ε=%g var=%g cov=%g}", k.n, k.d, k.o.Gamma, k.o.Eps, k.o.VarWeight, k.o.CovWeight)
}

func (k vicRegKernel) workLen() int { return k.n*k.d + k.d*k.d + k.d }

// centre writes the centred batch into c and the upper triangle of the
// unbiased covariance into cov.
func (k vicRegKernel) centre(z, c, cov []float64) {
	n, d := k.n, k.d
	mean := cov[:d] // borrowed before cov is written
	clear(mean)
	for i := range n {
		for j, x := range z[i*d : (i+1)*d] {
			mean[j] += x
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j, x := range z[i*d : (i+1)*d] {
			c[i*d+j] = x - mean[j]
		}
	}
	blas64.Syrk(blas.Trans, 1/float64(n-1),
		blas64.General{Rows: n, Cols: d, Stride: d, Data: c},
		0, blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: cov})
}

func (k vicRegKernel) loss(in [][]float64, work []float64) float64 {
	d := k.d
	c := work[:k.n*d]
	cov := work[k.n*d : k.n*d+d*d]
	k.centre(in[0], c, cov)
	var v, off float64
	for i := range d {
		v += max(0, k.o.Gamma-math.Sqrt(cov[i*d+i]+k.o.Eps))
		for j := i + 1; j < d; j++ {
			off += cov[i*d+j] * cov[i*d+j]
		}
	}
	return (k.o.VarWeight*v + k.o.CovWeight*2*off) / float64(d)
}

// grad uses ∂/∂C = 2 C H/(N−1) with H the symmetric matrix of the loss's
// derivatives by the covariance entries: H_jj = ∂/∂Var(z_j) and
// H_ij = 2·CovWeight·Cov_ij/d for i ≠ j; the centring projection removes
// the column means (zero up to rounding).
func (k vicRegKernel) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	n, d := k.n, k.d
	c := work[:n*d]
	h := work[n*d : n*d+d*d]
	k.centre(in[0], c, h)
	for i := range d {
		std := math.Sqrt(h[i*d+i] + k.o.Eps)
		var hv float64
		if k.o.Gamma > std {
			hv = -k.o.VarWeight / float64(d) / (2 * std)
		}
		h[i*d+i] = g * hv
		for j := i + 1; j < d; j++ {
			h[i*d+j] *= g * 2 * k.o.CovWeight / float64(d)
		}
	}
	gz := out[0]
	blas64.Symm(blas.Right, 2/float64(n-1),
		blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: h},
		blas64.General{Rows: n, Cols: d, Stride: d, Data: c},
		0, blas64.General{Rows: n, Cols: d, Stride: d, Data: gz})
	mean := work[n*d+d*d:]
	clear(mean)
	for i := range n {
		for j, x := range gz[i*d : (i+1)*d] {
			mean[j] += x
		}
	}
	for i := range n {
		for j := range d {
			gz[i*d+j] -= mean[j] / float64(n)
		}
	}
}
