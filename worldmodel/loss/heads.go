package loss

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SquaredError returns the deterministic baseline's dynamics loss, a scalar
// node: the mean over the B rows of the squared distance between target and
// mu (both B×d),
//
//	L = (1/B) Σ_b ‖z̄_b − μ_b‖².
func SquaredError(target, mu *gorgonia.Node) (*gorgonia.Node, error) {
	if target == nil || mu == nil {
		return nil, fmt.Errorf("loss: SquaredError: target and mu are required: %w", ErrShape)
	}
	b, d, err := matrixShape("SquaredError", "target", target)
	if err != nil {
		return nil, err
	}
	if err := sameShape("SquaredError", "mu", mu, b, d); err != nil {
		return nil, err
	}
	return applyLoss(pointKernel{kind: squaredError, n: b * d, div: float64(b)}, target, mu)
}

// MSE returns the mean squared error over all elements, a scalar node:
//
//	L = (1/n) Σ_i w_i (p_i − y_i)²
//
// where p is pred, y is target, n is the number of elements and w is
// weight, or 1 when weight is nil. The three have the same shape. The
// divisor is n whatever the weights, so a 0/1 mask scales the loss by the
// share of elements kept.
func MSE(pred, target, weight *gorgonia.Node) (*gorgonia.Node, error) {
	return pointLoss("MSE", meanSquared, pred, target, weight)
}

// BCEWithLogits returns the binary cross-entropy of targets y ∈ [0, 1]
// under Bernoulli probabilities σ(x) given by the logits x, averaged over
// all elements, a scalar node:
//
//	ℓ_i = max(x_i, 0) − x_i y_i + log(1 + exp(−|x_i|))
//	L = (1/n) Σ_i w_i ℓ_i
//
// which equals −y log σ(x) − (1−y) log(1−σ(x)) without overflow for any x.
// weight w is nil (all ones) or has the logits' shape; the divisor is the
// element count n, as in MSE. The gradient by x is w (σ(x) − y)/n, exact at
// x = 0.
func BCEWithLogits(logits, target, weight *gorgonia.Node) (*gorgonia.Node, error) {
	return pointLoss("BCEWithLogits", binaryXent, logits, target, weight)
}

func pointLoss(fn string, kind pointKind, pred, target, weight *gorgonia.Node) (*gorgonia.Node, error) {
	if pred == nil || target == nil {
		return nil, fmt.Errorf("loss: %s: pred and target are required: %w", fn, ErrShape)
	}
	sh := pred.Shape()
	if sh.Dims() == 0 {
		return nil, fmt.Errorf("loss: %s: pred is a scalar, want a tensor: %w", fn, ErrShape)
	}
	nodes := []*gorgonia.Node{pred, target}
	if weight != nil {
		nodes = append(nodes, weight)
	}
	for _, n := range nodes[1:] {
		if !n.Shape().Eq(sh) {
			return nil, fmt.Errorf("loss: %s: shapes %v and %v differ: %w", fn, sh, n.Shape(), ErrShape)
		}
	}
	return applyLoss(pointKernel{kind: kind, n: sh.TotalSize(), div: float64(sh.TotalSize())}, nodes...)
}

type pointKind int

const (
	meanSquared pointKind = iota
	squaredError
	binaryXent
)

// pointKernel is an elementwise loss Σ_i w_i ℓ(p_i, y_i) / div over n
// elements; the inputs are pred, target and optionally weight.
type pointKernel struct {
	kind pointKind
	n    int
	div  float64
}

func (k pointKernel) String() string {
	name := [...]string{"MSE", "SquaredError", "BCEWithLogits"}[k.kind]
	return fmt.Sprintf("%s{n=%d div=%g}", name, k.n, k.div)
}

func (k pointKernel) workLen() int { return 0 }

// bce returns max(x, 0) − x y + log(1 + exp(−|x|)).
func bce(x, y float64) float64 {
	return max(x, 0) - x*y + math.Log1p(math.Exp(-math.Abs(x)))
}

// sigmoid returns 1/(1 + exp(−x)) without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func (k pointKernel) loss(in [][]float64, _ []float64) float64 {
	p, y := in[0], in[1]
	var w []float64
	if len(in) > 2 {
		w = in[2]
	}
	var sum float64
	for i := range k.n {
		var l float64
		if k.kind == binaryXent {
			l = bce(p[i], y[i])
		} else {
			e := p[i] - y[i]
			l = e * e
		}
		if w != nil {
			l *= w[i]
		}
		sum += l
	}
	return sum / k.div
}

func (k pointKernel) grad(in [][]float64, g float64, out [][]float64, _ []float64) {
	p, y := in[0], in[1]
	gp, gy := out[0], out[1]
	var w, gw []float64
	if len(in) > 2 {
		w, gw = in[2], out[2]
	}
	g /= k.div
	for i := range k.n {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		var l float64
		if k.kind == binaryXent {
			l = bce(p[i], y[i])
			gp[i] = g * wi * (sigmoid(p[i]) - y[i])
			gy[i] = -g * wi * p[i]
		} else {
			e := p[i] - y[i]
			l = e * e
			gp[i] = 2 * g * wi * e
			gy[i] = -gp[i]
		}
		if gw != nil {
			gw[i] = g * l
		}
	}
}

// SoftBound returns x softly bounded to about [lo, hi], elementwise, as
// mbrl-lib bounds a predicted log-variance (mbrl/models/gaussian_mlp.py,
// after Chua et al. 2018, PETS):
//
//	h = hi − softplus(hi − x)
//	y = lo + softplus(h − lo),   softplus(u) = log(1 + exp(u))
//
// y is close to x well inside (lo, hi); it tends to lo as x → −∞ and to
// lo + softplus(hi − lo) = hi + log(1 + e^{−(hi−lo)}) ≈ hi as x → +∞. The
// gradient σ(hi − x)·σ(h − lo) is smooth and nonzero at every finite x,
// unlike a clamp's. It needs finite lo < hi. The node is one fused op of
// x's shape and dtype.
func SoftBound(x *gorgonia.Node, lo, hi float64) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("loss: SoftBound: x is nil: %w", ErrShape)
	}
	if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil, fmt.Errorf("loss: SoftBound: bounds [%v, %v], want finite lo < hi: %w", lo, hi, ErrOption)
	}
	dt := x.Dtype()
	if dt != tensor.Float64 && dt != tensor.Float32 {
		return nil, fmt.Errorf("loss: SoftBound: dtype %v not supported (Float32 or Float64): %w", dt, ErrShape)
	}
	n, err := gorgonia.ApplyOp(softBoundOp{lo: lo, hi: hi, dt: dt, shape: x.Shape().Clone()}, x)
	if err != nil {
		return nil, fmt.Errorf("loss: SoftBound: %w", err)
	}
	return n, nil
}

// softplus returns log(1 + exp(u)) without overflow or underflow.
func softplus(u float64) float64 {
	return max(u, 0) + math.Log1p(math.Exp(-math.Abs(u)))
}

// softBound returns the bounded value of x and its derivative.
func softBound(x, lo, hi float64) (y, dy float64) {
	h := hi - softplus(hi-x)
	return lo + softplus(h-lo), sigmoid(hi-x) * sigmoid(h-lo)
}

// softBoundOp is SoftBound; with grad set it is its derivative, taking
// (x, ∂L/∂y) and returning ∂L/∂x.
type softBoundOp struct {
	lo, hi float64
	dt     tensor.Dtype
	shape  tensor.Shape
	grad   bool
}

func (op softBoundOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}

func (op softBoundOp) Type() hm.Type {
	a := typeOf(op.shape.Dims(), hm.TypeVariable('a'))
	if op.grad {
		return hm.NewFnType(a, a, a)
	}
	return hm.NewFnType(a, a)
}

func (op softBoundOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op softBoundOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vals...)
}

// UsePreallocDo writes into prealloc when it fits.
func (op softBoundOp) UsePreallocDo(prealloc gorgonia.Value, vals ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("loss: %v: %d inputs, want %d", op, len(vals), op.Arity())
	}
	for i, v := range vals {
		if !v.Shape().Eq(op.shape) {
			return nil, fmt.Errorf("loss: %v: input %d has shape %v: %w", op, i, v.Shape(), ErrShape)
		}
	}
	res := dense(prealloc, op.dt, op.shape)
	if op.dt == tensor.Float64 {
		x, err := float64s(vals[0])
		if err != nil {
			return nil, fmt.Errorf("loss: %v: %w", op, err)
		}
		var gy []float64
		if op.grad {
			if gy, err = float64s(vals[1]); err != nil {
				return nil, fmt.Errorf("loss: %v: %w", op, err)
			}
		}
		softBoundInto(res.Float64s(), x, gy, op.lo, op.hi)
		return res, nil
	}
	x, err := float32s(vals[0])
	if err != nil {
		return nil, fmt.Errorf("loss: %v: %w", op, err)
	}
	var gy []float32
	if op.grad {
		if gy, err = float32s(vals[1]); err != nil {
			return nil, fmt.Errorf("loss: %v: %w", op, err)
		}
	}
	softBoundInto(res.Float32s(), x, gy, op.lo, op.hi)
	return res, nil
}

// softBoundInto writes the bounded x into dst, or, when gy is not nil,
// gy times the derivative.
func softBoundInto[T float32 | float64](dst, x, gy []T, lo, hi float64) {
	for i, xi := range x {
		y, dy := softBound(float64(xi), lo, hi)
		if gy != nil {
			dst[i] = T(dy * float64(gy[i]))
		} else {
			dst[i] = T(y)
		}
	}
}

func (op softBoundOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns the derivative node; the derivative op itself is not
// differentiable.
func (op softBoundOp) SymDiff(inputs gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("loss: %v: second derivatives are not implemented", op)
	}
	d := op
	d.grad = true
	n, err := gorgonia.ApplyOp(d, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("loss: %v: %w", op, err)
	}
	return gorgonia.Nodes{n}, nil
}

func (op softBoundOp) ReturnsPtr() bool      { return false }
func (op softBoundOp) CallsExtern() bool     { return false }
func (op softBoundOp) OverwritesInput() int  { return -1 }
func (op softBoundOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op) }
func (op softBoundOp) Hashcode() uint32      { return hashOf(op) }
func (op softBoundOp) String() string {
	name := "SoftBound"
	if op.grad {
		name = "∇SoftBound"
	}
	return fmt.Sprintf("%s{%g, %g}%v", name, op.lo, op.hi, op.shape)
}

var _ gorgonia.SDOp = softBoundOp{}
