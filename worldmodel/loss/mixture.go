package loss

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// MixtureOptions configures MixtureNLL; the zero value is the plain
// mixture likelihood.
type MixtureOptions struct {
	// MinWeight is a floor f on every mixing weight,
	//
	//	π = (1 − M f) softmax(logits) + f,
	//
	// which keeps a component from being switched off for good (mixture
	// density networks trained by plain likelihood tend to put all weight
	// on one component). It needs 0 ≤ f < 1/M; 0 means no floor.
	MinWeight float64
	// Beta is β of β-NLL (see NLLOptions) carried over to the mixture:
	// with β > 0 the loss is the expected complete-data NLL of EM,
	//
	//	ℓ_β = Σ_m sg(γ_m) (Σ_i sg(σ_mi²)^β ℓ_mi − log π_m),
	//
	// with the responsibilities γ_m = π_m N_m / Σ_j π_j N_j and ℓ_mi the
	// per-dimension terms of component m's NLL. For β = 0 its gradient is
	// the NLL's own (the logits get π − γ, component m γ_m times the
	// gradient of its NLL); β > 0 only rescales each component's
	// per-dimension gradients by its variance, so a confident component no
	// longer gets a gradient scaled up by its precision. β = 0 (default)
	// is the plain mixture NLL, value and gradient.
	Beta float64
}

// MixtureNLL returns a scalar node: the mean over the B rows of the
// negative log-likelihood of the target under a mixture of M diagonal
// Gaussians,
//
//	ℓ = −log Σ_m π_m N(z̄; μ_m, diag(exp(s_m)))
//	  = −logsumexp_m (log π_m − ℓ_m)
//
// where ℓ_m is GaussianNLL's row loss of component m and π =
// softmax(logits) (floored by opts.MinWeight). target is B×d, logits B×M,
// and mus and logVars are B×(M·d) with component m of row b at columns
// m·d … m·d+d−1. The log-sum-exp is shifted by its maximum, so distant
// components do not underflow. The gradient by component m is its
// responsibility γ_m = π_m N_m / Σ_j π_j N_j times the gradient of ℓ_m;
// without a floor the gradient by the logits is π − γ. The node is one
// fused op.
func MixtureNLL(target, logits, mus, logVars *gorgonia.Node, m int, opts MixtureOptions) (*gorgonia.Node, error) {
	if target == nil || logits == nil || mus == nil || logVars == nil {
		return nil, fmt.Errorf("loss: MixtureNLL: target, logits, mus and logVars are required: %w", ErrShape)
	}
	if m < 1 {
		return nil, fmt.Errorf("loss: MixtureNLL: %d components, want ≥ 1: %w", m, ErrOption)
	}
	if !(opts.MinWeight >= 0 && opts.MinWeight*float64(m) < 1) {
		return nil, fmt.Errorf("loss: MixtureNLL: MinWeight %v, want 0 ≤ f < 1/M = %v: %w", opts.MinWeight, 1/float64(m), ErrOption)
	}
	b, d, err := matrixShape("MixtureNLL", "target", target)
	if err != nil {
		return nil, err
	}
	if err := sameShape("MixtureNLL", "logits", logits, b, m); err != nil {
		return nil, err
	}
	if err := sameShape("MixtureNLL", "mus", mus, b, m*d); err != nil {
		return nil, err
	}
	if err := sameShape("MixtureNLL", "logVars", logVars, b, m*d); err != nil {
		return nil, err
	}
	if opts.Beta < 0 || math.IsNaN(opts.Beta) || math.IsInf(opts.Beta, 0) {
		return nil, fmt.Errorf("loss: MixtureNLL: β = %v, want finite ≥ 0: %w", opts.Beta, ErrOption)
	}
	return applyLoss(mixtureKernel{b: b, d: d, m: m, floor: opts.MinWeight, beta: opts.Beta}, target, logits, mus, logVars)
}

// mixtureKernel is MixtureNLL over B rows, d dimensions, M components.
type mixtureKernel struct {
	b, d, m     int
	floor, beta float64
}

func (k mixtureKernel) String() string {
	return fmt.Sprintf("MixtureNLL{B=%d d=%d M=%d floor=%g beta=%g}", k.b, k.d, k.m, k.floor, k.beta)
}

// rowLossBeta returns ℓ_β of row b (see MixtureOptions.Beta).
func (k mixtureKernel) rowLossBeta(in [][]float64, b int, s, pi, l []float64) float64 {
	ell := k.rowLoss(in, b, s, pi, l)
	d, m := k.d, k.m
	z := in[0][b*d : (b+1)*d]
	var sum float64
	for j := range m {
		gam := math.Exp(math.Log(pi[j]) - l[j] + ell)
		if gam == 0 {
			continue
		}
		off := (b*m + j) * d
		sum += gam * (nllRowLoss(z, in[2][off:off+d], in[3][off:off+d], nil, 0, k.beta, nil) - math.Log(pi[j]))
	}
	return sum
}

// workLen: s, π, ℓ/γ (M each), a component's ∂/∂z (d), nllRowGrad's
// scratch.
func (k mixtureKernel) workLen() int { return 3*k.m + k.d + nllGradWork(k.d, 0) }

// weights writes softmax(logits) into s and the floored weights into pi.
func (k mixtureKernel) weights(logits, s, pi []float64) {
	mx := math.Inf(-1)
	for _, x := range logits {
		mx = max(mx, x)
	}
	var sum float64
	for j, x := range logits {
		s[j] = math.Exp(x - mx)
		sum += s[j]
	}
	a := 1 - float64(k.m)*k.floor
	for j := range s {
		s[j] /= sum
		pi[j] = a*s[j] + k.floor
	}
}

// rowLoss returns ℓ of row b and leaves the component losses in l.
func (k mixtureKernel) rowLoss(in [][]float64, b int, s, pi, l []float64) float64 {
	d, m := k.d, k.m
	z := in[0][b*d : (b+1)*d]
	k.weights(in[1][b*m:(b+1)*m], s, pi)
	mx := math.Inf(-1)
	for j := range m {
		off := (b*m + j) * d
		l[j] = nllRowLoss(z, in[2][off:off+d], in[3][off:off+d], nil, 0, 0, nil)
		mx = max(mx, math.Log(pi[j])-l[j])
	}
	var sum float64
	for j := range m {
		sum += math.Exp(math.Log(pi[j]) - l[j] - mx)
	}
	return -(mx + math.Log(sum))
}

func (k mixtureKernel) loss(in [][]float64, work []float64) float64 {
	s, pi, l := work[:k.m], work[k.m:2*k.m], work[2*k.m:3*k.m]
	var sum float64
	for b := range k.b {
		if k.beta != 0 {
			sum += k.rowLossBeta(in, b, s, pi, l)
		} else {
			sum += k.rowLoss(in, b, s, pi, l)
		}
	}
	return sum / float64(k.b)
}

func (k mixtureKernel) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	d, m := k.d, k.m
	s, pi, gam := work[:m], work[m:2*m], work[2*m:3*m]
	gzj := work[3*m : 3*m+d]
	rowWork := work[3*m+d:]
	a := 1 - float64(m)*k.floor
	g /= float64(k.b)
	for b := range k.b {
		ell := k.rowLoss(in, b, s, pi, gam)
		// γ_j = π_j exp(−ℓ_j) / p = exp(log π_j − ℓ_j + ℓ), and with
		// ρ_j = s_j/π_j (1/a where both underflow to 0)
		// ∂ℓ/∂logit_j = −a (γ_j ρ_j − s_j Σ_m γ_m ρ_m).
		var t float64
		for j := range m {
			gam[j] = math.Exp(math.Log(pi[j]) - gam[j] + ell)
			pi[j] = ratio(s[j], pi[j], a)
			t += gam[j] * pi[j]
		}
		gl := out[1][b*m : (b+1)*m]
		for j := range m {
			gl[j] = -g * a * (gam[j]*pi[j] - s[j]*t)
		}
		z := in[0][b*d : (b+1)*d]
		gz := out[0][b*d : (b+1)*d]
		clear(gz)
		for j := range m {
			off := (b*m + j) * d
			nllRowGrad(z, in[2][off:off+d], in[3][off:off+d], nil, 0, k.beta, g*gam[j],
				gzj, out[2][off:off+d], out[3][off:off+d], nil, rowWork)
			for i, x := range gzj {
				gz[i] += x
			}
		}
	}
}

// ratio returns s/π for π = a·s + f, and its limit 1/a when both are 0.
func ratio(s, pi, a float64) float64 {
	if pi == 0 {
		return 1 / a
	}
	return s / pi
}

// MixtureEntropy returns a scalar node: the mean over the B rows of the
// entropy of the mixing weights,
//
//	H = −Σ_m π_m log π_m,   π = a·s + f,   s = softmax(logits),   a = 1 − M f,
//
// with f = opts.MinWeight and logits B×M. Subtracting c·H from a mixture's
// NLL is a small bonus for spreading the weight, against the collapse of
// mixture density networks onto one component (a component whose weight
// reaches zero gets no gradient and never returns). Its gradient by the
// logits is
//
//	∂H/∂logit_k = −a s_k (log π_k − Σ_j s_j log π_j).
//
// The node is one fused op.
func MixtureEntropy(logits *gorgonia.Node, m int, opts MixtureOptions) (*gorgonia.Node, error) {
	if logits == nil {
		return nil, fmt.Errorf("loss: MixtureEntropy: logits are required: %w", ErrShape)
	}
	if m < 1 {
		return nil, fmt.Errorf("loss: MixtureEntropy: %d components, want ≥ 1: %w", m, ErrOption)
	}
	if !(opts.MinWeight >= 0 && opts.MinWeight*float64(m) < 1) {
		return nil, fmt.Errorf("loss: MixtureEntropy: MinWeight %v, want 0 ≤ f < 1/M = %v: %w", opts.MinWeight, 1/float64(m), ErrOption)
	}
	b, cols, err := matrixShape("MixtureEntropy", "logits", logits)
	if err != nil {
		return nil, err
	}
	if cols != m {
		return nil, fmt.Errorf("loss: MixtureEntropy: logits have %d columns, want M = %d: %w", cols, m, ErrShape)
	}
	return applyLoss(entropyKernel{mixtureKernel{b: b, m: m, floor: opts.MinWeight}}, logits)
}

// entropyKernel is MixtureEntropy over B rows of M logits; it reuses
// mixtureKernel's weights.
type entropyKernel struct{ mixtureKernel }

func (k entropyKernel) String() string {
	return fmt.Sprintf("MixtureEntropy{B=%d M=%d floor=%g}", k.b, k.m, k.floor)
}

// workLen: s and π (M each).
func (k entropyKernel) workLen() int { return 2 * k.m }

func (k entropyKernel) loss(in [][]float64, work []float64) float64 {
	m := k.m
	s, pi := work[:m], work[m:2*m]
	var sum float64
	for b := range k.b {
		k.weights(in[0][b*m:(b+1)*m], s, pi)
		for _, p := range pi {
			sum -= xlogx(p)
		}
	}
	return sum / float64(k.b)
}

func (k entropyKernel) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	m := k.m
	s, pi := work[:m], work[m:2*m]
	a := 1 - float64(m)*k.floor
	g /= float64(k.b)
	for b := range k.b {
		k.weights(in[0][b*m:(b+1)*m], s, pi)
		// log π_j, with s_j log π_j → 0 where both underflow.
		var mean float64
		for j, p := range pi {
			if s[j] > 0 {
				pi[j] = math.Log(p)
				mean += s[j] * pi[j]
			} else {
				pi[j] = 0
			}
		}
		gl := out[0][b*m : (b+1)*m]
		for j := range gl {
			gl[j] = -g * a * s[j] * (pi[j] - mean)
		}
	}
}

// xlogx is x log x, with its limit 0 at x = 0.
func xlogx(x float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(x)
}
