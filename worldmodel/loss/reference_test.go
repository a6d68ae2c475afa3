package loss

import (
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The references below compose the losses from gorgonia primitives, so
// that gorgonia's own differentiation checks the fused ops' hand-written
// gradients. They are Float64 only and build many nodes; they exist for
// tests.

// refGaussianNLL is GaussianNLL from primitives. The low-rank part runs
// the Cholesky factorisation of the capacitance C = I + Uᵀ D⁻¹ U entry by
// entry on B-vectors. w, when not nil, is a constant B×d node of β-NLL
// weights (see NLLOptions).
func refGaussianNLL(target, mu, logVar, factor *gorgonia.Node, r int, w *gorgonia.Node) (*gorgonia.Node, error) {
	b, d := target.Shape()[0], target.Shape()[1]
	e := must(gorgonia.Sub(target, mu))
	if w != nil {
		e = must(gorgonia.HadamardProd(e, must(gorgonia.Sqrt(w))))
	}
	invD := must(gorgonia.Exp(must(gorgonia.Neg(logVar))))
	quad := must(gorgonia.Sum(must(gorgonia.HadamardProd(must(gorgonia.Square(e)), invD)), 1))
	logs := must(gorgonia.Add(logVar, constF64(log2Pi)))
	wBar := constF64(1)
	if w != nil {
		logs = must(gorgonia.HadamardProd(logs, w))
		wBar = must(gorgonia.Mean(w, 1))
	}
	logTerm := must(gorgonia.Sum(logs, 1))
	if r > 0 {
		u3 := must(gorgonia.Reshape(factor, tensor.Shape{b, d, r}))
		u := make([]*gorgonia.Node, r)
		for a := range r {
			u[a] = must(gorgonia.Slice(u3, nil, nil, gorgonia.S(a)))
		}
		eInvD := must(gorgonia.HadamardProd(e, invD))
		l := make([][]*gorgonia.Node, r)
		v := make([]*gorgonia.Node, r)
		for i := range r {
			l[i] = make([]*gorgonia.Node, r)
			v[i] = must(gorgonia.Sum(must(gorgonia.HadamardProd(u[i], eInvD)), 1))
		}
		var logDet *gorgonia.Node
		for j := range r {
			for i := j; i < r; i++ {
				cij := must(gorgonia.Sum(must(gorgonia.HadamardProd(must(gorgonia.HadamardProd(u[i], u[j])), invD)), 1))
				if i == j {
					cij = must(gorgonia.Add(cij, constF64(1)))
				}
				for k := range j {
					cij = must(gorgonia.Sub(cij, must(gorgonia.HadamardProd(l[i][k], l[j][k]))))
				}
				if i == j {
					l[j][j] = must(gorgonia.Sqrt(cij))
					ld := must(gorgonia.Log(l[j][j]))
					if logDet == nil {
						logDet = ld
					} else {
						logDet = must(gorgonia.Add(logDet, ld))
					}
				} else {
					l[i][j] = must(gorgonia.HadamardDiv(cij, l[j][j]))
				}
			}
		}
		logDet = must(gorgonia.Mul(logDet, constF64(2)))
		if w != nil {
			logDet = must(gorgonia.HadamardProd(logDet, wBar))
		}
		logTerm = must(gorgonia.Add(logTerm, logDet))
		y := make([]*gorgonia.Node, r)
		for i := range r {
			yi := v[i]
			for k := range i {
				yi = must(gorgonia.Sub(yi, must(gorgonia.HadamardProd(l[i][k], y[k]))))
			}
			y[i] = must(gorgonia.HadamardDiv(yi, l[i][i]))
			quad = must(gorgonia.Sub(quad, must(gorgonia.Square(y[i]))))
		}
	}
	row := must(gorgonia.Mul(must(gorgonia.Add(quad, logTerm)), constF64(0.5)))
	return gorgonia.Mean(row)
}

// betaWeights returns the β-NLL weights w_i = (exp(s_i) + ‖U_i‖²)^β of
// every row, the values the fused op holds constant.
func betaWeights(logVar, factor []float64, b, d, r int, beta float64) []float64 {
	w := make([]float64, b*d)
	for i := range w {
		m := math.Exp(logVar[i])
		for k := range r {
			x := factor[i*r+k]
			m += x * x
		}
		w[i] = math.Pow(m, beta)
	}
	return w
}

// refSIGReg is SIGReg from primitives: X = Z A, then per knot the squared
// distance of the empirical characteristic function from φ.
func refSIGReg(z, dirs *gorgonia.Node, knots int) (*gorgonia.Node, error) {
	n := float64(z.Shape()[0])
	x := must(gorgonia.Mul(z, dirs))
	t, w, phi := eppsPulleyKnots(knots)
	var sum *gorgonia.Node
	for k := range knots {
		tx := must(gorgonia.Mul(x, constF64(t[k])))
		c := must(gorgonia.Sub(must(gorgonia.Mean(must(gorgonia.Cos(tx)), 0)), constF64(phi[k])))
		s := must(gorgonia.Mean(must(gorgonia.Sin(tx)), 0))
		term := must(gorgonia.Add(must(gorgonia.Square(c)), must(gorgonia.Square(s))))
		term = must(gorgonia.Mul(term, constF64(w[k]*n)))
		if sum == nil {
			sum = term
		} else {
			sum = must(gorgonia.Add(sum, term))
		}
	}
	return gorgonia.Mean(sum)
}

// refVICReg is VICReg's variance and covariance terms from primitives.
func refVICReg(z *gorgonia.Node, opts VICRegOptions) (*gorgonia.Node, error) {
	o := opts.resolved()
	n, d := z.Shape()[0], z.Shape()[1]
	mean := must(gorgonia.Reshape(must(gorgonia.Mean(z, 0)), tensor.Shape{1, d}))
	c := must(gorgonia.BroadcastSub(z, mean, nil, []byte{0}))
	variance := must(gorgonia.Mul(must(gorgonia.Sum(must(gorgonia.Square(c)), 0)), constF64(1/float64(n-1))))
	std := must(gorgonia.Sqrt(must(gorgonia.Add(variance, constF64(o.Eps)))))
	hinge := must(gorgonia.Rectify(must(gorgonia.Sub(constF64(o.Gamma), std))))
	varTerm := must(gorgonia.Mul(must(gorgonia.Mean(hinge)), constF64(o.VarWeight)))
	cov := must(gorgonia.Mul(must(gorgonia.Mul(must(gorgonia.Transpose(c)), c)), constF64(1/float64(n-1))))
	mask := make([]float64, d*d)
	for i := range mask {
		if i/d != i%d {
			mask[i] = 1
		}
	}
	maskNode := gorgonia.NewConstant(tensor.New(tensor.WithShape(d, d), tensor.WithBacking(mask)))
	off := must(gorgonia.HadamardProd(must(gorgonia.Square(cov)), maskNode))
	covTerm := must(gorgonia.Mul(must(gorgonia.Sum(off)), constF64(o.CovWeight/float64(d))))
	return gorgonia.Add(varTerm, covTerm)
}
