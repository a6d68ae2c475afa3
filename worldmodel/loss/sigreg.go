package loss

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/gorgonia"
)

// DefaultKnots is the usual number of Epps–Pulley knots on [0, 3] (LeJEPA).
const DefaultKnots = 17

// sigRegTMax is the end of the knot interval [0, t_max]; φ(3) ≈ 0.011, so
// the integrand beyond it is negligible.
const sigRegTMax = 3

// SIGReg returns the sketched isotropic Gaussian regulariser of LeJEPA
// (Balestriero & LeCun 2025, "LeJEPA: Provable and Scalable Self-Supervised
// Learning Without the Heuristics"), a scalar node: the Epps–Pulley
// statistic of the batch z (N×d) projected on each column of dirs (d×M),
// averaged over the M directions:
//
//	x_nᵐ = ⟨z_n, aᵐ⟩
//	EPᵐ = N Σ_k w_k [ (1/N Σ_n cos(t_k x_nᵐ) − φ(t_k))² + (1/N Σ_n sin(t_k x_nᵐ))² ]
//	SIGReg = (1/M) Σ_m EPᵐ
//
// where aᵐ is the m-th column of dirs (unit vectors: fill dirs with fresh
// RandomDirections each step), φ(t) = exp(−t²/2) is the characteristic
// function of N(0, 1), the knots t_k = 3k/(K−1), k = 0…K−1, are evenly
// spaced on [0, 3] and
//
//	w_k = 2 · Δ_k · φ(t_k),   Δ_k = 3/(K−1), halved at k = 0 and k = K−1
//
// are the trapezoid weights of ∫₀³, doubled because the integrand is even
// in t, times the weight function φ. For N(0, 1) projections
// E[EPᵐ] = Σ_k w_k (1 − φ(t_k)²) ≈ 1.05 (17 knots) whatever N; for a batch
// collapsed to a point EPᵐ grows like N. knots is K ≥ 2; DefaultKnots is
// 17. The gradient flows to z and to dirs. The node is one fused op; the
// cos and sin of all knots come from one sincos per projection by
// rotation, so a pass costs O(N·d·M) for the projections plus O(N·M·K).
func SIGReg(z, dirs *gorgonia.Node, knots int) (*gorgonia.Node, error) {
	if z == nil || dirs == nil {
		return nil, fmt.Errorf("loss: SIGReg: z and dirs are required: %w", ErrShape)
	}
	if knots < 2 {
		return nil, fmt.Errorf("loss: SIGReg: %d knots, want ≥ 2: %w", knots, ErrOption)
	}
	n, d, err := matrixShape("SIGReg", "z", z)
	if err != nil {
		return nil, err
	}
	d2, m, err := matrixShape("SIGReg", "dirs", dirs)
	if err != nil {
		return nil, err
	}
	if d2 != d {
		return nil, fmt.Errorf("loss: SIGReg: dirs has %d rows, z has %d columns: %w", d2, d, ErrShape)
	}
	t, w, phi := eppsPulleyKnots(knots)
	return applyLoss(sigRegKernel{n: n, d: d, m: m, t: t, w: w, phi: phi}, z, dirs)
}

// SIGRegBeside is SIGReg computed beside the graph: when the machine
// reaches the node it returns, the loss and then its gradient start on a
// goroutine of their own, each on that goroutine alone, and the node's
// value is NaN, a placeholder. Settle of the node is the loss: build the
// SIGReg node as soon as z is, and Settle where the loss is used, so that
// the machine runs the ops between them meanwhile. The gradient is
// SIGReg's, to z and dirs, through Settle.
func SIGRegBeside(z, dirs *gorgonia.Node, knots int) (*gorgonia.Node, error) {
	n, err := SIGReg(z, dirs, knots)
	if err != nil {
		return nil, err
	}
	op := n.Op().(lossOp)
	k := op.k.(sigRegKernel)
	k.serial = true
	op.k = k
	op.kept.beside = true
	return n, nil
}

// eppsPulleyKnots returns the knots t_k, the weights w_k (trapezoid on
// [0, 3], doubled, times φ) and φ(t_k) of SIGReg.
func eppsPulleyKnots(k int) (t, w, phi []float64) {
	t = make([]float64, k)
	w = make([]float64, k)
	phi = make([]float64, k)
	dt := float64(sigRegTMax) / float64(k-1)
	for i := range k {
		t[i] = float64(i) * dt
		phi[i] = math.Exp(-0.5 * t[i] * t[i])
		trap := dt
		if i == 0 || i == k-1 {
			trap = dt / 2
		}
		w[i] = 2 * trap * phi[i]
	}
	return t, w, phi
}

// RandomDirections fills dst, a d×m matrix (row-major), with m independent
// directions drawn uniformly from the unit sphere in R^d as its columns:
// each column is a standard normal vector divided by its norm. It panics if
// len(dst) ≠ d·m.
func RandomDirections[T float32 | float64](dst []T, d, m int, rng *rand.Rand) {
	if len(dst) != d*m || d < 1 {
		panic(fmt.Sprintf("loss: RandomDirections: len(dst) = %d, want d·m = %d·%d", len(dst), d, m))
	}
	for j := range m {
		var norm2 float64
		for norm2 == 0 {
			for i := range d {
				x := rng.NormFloat64()
				dst[i*m+j] = T(x)
				norm2 += float64(dst[i*m+j]) * float64(dst[i*m+j])
			}
		}
		inv := 1 / math.Sqrt(norm2)
		for i := range d {
			dst[i*m+j] = T(float64(dst[i*m+j]) * inv)
		}
	}
}

// sigRegKernel is SIGReg of an N×d batch on M directions.
type sigRegKernel struct {
	n, d, m   int
	t, w, phi []float64
	serial    bool // computes on the calling goroutine alone
}

func (k sigRegKernel) String() string {
	return fmt.Sprintf("SIGReg{N=%d d=%d M=%d K=%d}", k.n, k.d, k.m, len(k.t))
}

// workLen is the scratch the kernel needs: the projections X, the cosine
// and sine of t_1·X (N×M each), the moments (M×K, cosine and sine), the
// gradient of X (N×M) and a second set of moments for the rows that
// another goroutine sums.
func (k sigRegKernel) workLen() int { return 4*k.n*k.m + 4*k.m*len(k.t) }

// sigRegWork is the kernel's work slice carved into its parts. loss
// leaves x, c1, s1, cs and sn for gradKept.
type sigRegWork struct {
	x, c1, s1 []float64 // projections, cos and sin of t_1·x (N×M)
	cs, sn    []float64 // moments (M×K)
	gx        []float64 // ∂/∂x (N×M)
	cs2, sn2  []float64 // the second goroutine's moments
}

func (k sigRegKernel) scratch(work []float64) sigRegWork {
	nm, mk := k.n*k.m, k.m*len(k.t)
	next := func(n int) []float64 {
		s := work[:n:n]
		work = work[n:]
		return s
	}
	return sigRegWork{x: next(nm), c1: next(nm), s1: next(nm), cs: next(mk), sn: next(mk),
		gx: next(nm), cs2: next(mk), sn2: next(mk)}
}

// splitMinWork is the least number of projections N·M for which SIGReg
// shares its rows with a second goroutine.
const splitMinWork = 1 << 13

// splitRows runs f on the rows [0, n): the first half on the caller, the
// second on a new goroutine, or on the caller when that goroutine has not
// started by the time the first half is done (a busy machine), so that
// the caller never waits for a goroutine that is not running. Small jobs,
// and one core, run on the caller alone. f(lo, hi, second) is told which
// half it computes, so that each half can sum into its own buffers.
func splitRows(n, work int, f func(lo, hi int, second bool)) {
	if n < 2 || work < splitMinWork || runtime.GOMAXPROCS(0) < 2 {
		f(0, n, false)
		return
	}
	mid := n / 2
	var claimed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		if claimed.CompareAndSwap(false, true) {
			f(mid, n, true)
		}
	}()
	f(0, mid, false)
	if claimed.CompareAndSwap(false, true) {
		f(mid, n, true)
		return
	}
	<-done
}

// project writes X = Z A (N×M) into x.
func (k sigRegKernel) project(z, a, x []float64) {
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas64.General{Rows: k.n, Cols: k.d, Stride: k.d, Data: z},
		blas64.General{Rows: k.d, Cols: k.m, Stride: k.m, Data: a},
		0, blas64.General{Rows: k.n, Cols: k.m, Stride: k.m, Data: x})
}

// moments writes Σ_n cos(t_k x_nᵐ) and Σ_n sin(t_k x_nᵐ) into w.cs and
// w.sn (M×K), and cos and sin of t_1·x into w.c1 and w.s1, the two halves
// of the rows summed apart (the second into w.cs2 and w.sn2) and then
// added, on two goroutines when the batch is large.
func (k sigRegKernel) moments(w sigRegWork) {
	clear(w.cs)
	clear(w.sn)
	clear(w.cs2)
	clear(w.sn2)
	work := k.n * k.m
	if k.serial {
		work = 0
	}
	splitRows(k.n, work, func(lo, hi int, second bool) {
		if second {
			k.momentsRows(w.x, w.c1, w.s1, w.cs2, w.sn2, lo, hi)
		} else {
			k.momentsRows(w.x, w.c1, w.s1, w.cs, w.sn, lo, hi)
		}
	})
	for i, v := range w.cs2 {
		w.cs[i] += v
		w.sn[i] += w.sn2[i]
	}
}

// momentsRows adds Σ_n cos(t_k x_nᵐ) and Σ_n sin(t_k x_nᵐ) over rows
// [lo, hi) to cs and sn (M×K), and writes cos and sin of t_1 x for those
// rows into c1 and s1. The knots are evenly spaced, so cos and sin of
// t_k x follow from those of t_1 x by rotation: one sincos per projection
// instead of K. Four directions advance together so that their rotations
// overlap in the CPU.
func (k sigRegKernel) momentsRows(x, c1, s1, cs, sn []float64, lo, hi int) {
	nk := len(k.t)
	dt := k.t[1]
	for n := lo; n < hi; n++ {
		xr := x[n*k.m : (n+1)*k.m]
		cr, sr := c1[n*k.m:(n+1)*k.m], s1[n*k.m:(n+1)*k.m]
		for m, v := range xr {
			sr[m], cr[m] = math.Sincos(dt * v)
		}
		m := 0
		for ; m+4 <= k.m; m += 4 {
			sa1, ca1 := sr[m], cr[m]
			sb1, cb1 := sr[m+1], cr[m+1]
			sc1, cc1 := sr[m+2], cr[m+2]
			sd1, cd1 := sr[m+3], cr[m+3]
			ca, sa, cb, sb, cc, sc, cd, sd := 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0
			cs4 := cs[m*nk : (m+4)*nk]
			sn4 := sn[m*nk : (m+4)*nk]
			cs4[0]++
			cs4[nk]++
			cs4[2*nk]++
			cs4[3*nk]++
			for j := 1; j < nk; j++ {
				ca, sa = ca*ca1-sa*sa1, sa*ca1+ca*sa1
				cb, sb = cb*cb1-sb*sb1, sb*cb1+cb*sb1
				cc, sc = cc*cc1-sc*sc1, sc*cc1+cc*sc1
				cd, sd = cd*cd1-sd*sd1, sd*cd1+cd*sd1
				cs4[j] += ca
				sn4[j] += sa
				cs4[nk+j] += cb
				sn4[nk+j] += sb
				cs4[2*nk+j] += cc
				sn4[2*nk+j] += sc
				cs4[3*nk+j] += cd
				sn4[3*nk+j] += sd
			}
		}
		for ; m < k.m; m++ {
			sm1, cm1 := sr[m], cr[m]
			c, s := 1.0, 0.0
			cm := cs[m*nk : (m+1)*nk]
			sm := sn[m*nk : (m+1)*nk]
			cm[0]++
			for j := 1; j < nk; j++ {
				c, s = c*cm1-s*sm1, s*cm1+c*sm1
				cm[j] += c
				sm[j] += s
			}
		}
	}
}

func (k sigRegKernel) loss(in [][]float64, work []float64) float64 {
	nk := len(k.t)
	w := k.scratch(work)
	cs, sn := w.cs, w.sn
	k.project(in[0], in[1], w.x)
	k.moments(w)
	inv := 1 / float64(k.n)
	var sum float64
	for i := range cs {
		j := i % nk
		c := cs[i]*inv - k.phi[j]
		s := sn[i] * inv
		sum += k.w[j] * (c*c + s*s)
	}
	return sum * float64(k.n) / float64(k.m)
}

// grad uses
//
//	∂EPᵐ/∂x_nᵐ = 2 Σ_k w_k t_k [ s̄_kᵐ cos(t_k x_nᵐ) − (c̄_kᵐ − φ_k) sin(t_k x_nᵐ) ]
//
// with c̄, s̄ the empirical means, then ∂/∂Z = G Aᵀ and ∂/∂A = Zᵀ G.
func (k sigRegKernel) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	w := k.scratch(work)
	k.project(in[0], in[1], w.x)
	k.moments(w)
	k.gradFrom(in, g, out, work, true)
}

// gradKept is grad from the projections and moments that loss left in
// work, on the calling goroutine alone.
func (k sigRegKernel) gradKept(in [][]float64, g float64, out [][]float64, work []float64) {
	k.gradFrom(in, g, out, work, false)
}

// gradFrom is grad from the projections and moments in work; with split
// set it shares the rows with a second goroutine.
func (k sigRegKernel) gradFrom(in [][]float64, g float64, out [][]float64, work []float64, split bool) {
	nk := len(k.t)
	w := k.scratch(work)
	gx, cs, sn := w.gx, w.cs, w.sn
	// Turn the sums into the coefficients of cos and −sin.
	inv := 1 / float64(k.n)
	scale := 2 * g / float64(k.m)
	for i := range cs {
		j := i % nk
		f := scale * k.w[j] * k.t[j]
		cs[i], sn[i] = f*sn[i]*inv, f*(cs[i]*inv-k.phi[j])
	}
	if split {
		splitRows(k.n, k.n*k.m, func(lo, hi int, _ bool) { k.gradRows(w, lo, hi) })
	} else {
		k.gradRows(w, 0, k.n)
	}
	gxm := blas64.General{Rows: k.n, Cols: k.m, Stride: k.m, Data: gx}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, gxm,
		blas64.General{Rows: k.d, Cols: k.m, Stride: k.m, Data: in[1]},
		0, blas64.General{Rows: k.n, Cols: k.d, Stride: k.d, Data: out[0]})
	blas64.Gemm(blas.Trans, blas.NoTrans, 1,
		blas64.General{Rows: k.n, Cols: k.d, Stride: k.d, Data: in[0]}, gxm,
		0, blas64.General{Rows: k.d, Cols: k.m, Stride: k.m, Data: out[1]})
}

// gradRows writes ∂EP/∂x_nᵐ for the rows [lo, hi) into w.gx, from the
// coefficients that grad made of the moments (w.cs for cos, w.sn for
// −sin) and the cos and sin of t_1 x that moments kept.
func (k sigRegKernel) gradRows(w sigRegWork, lo, hi int) {
	nk := len(k.t)
	cs, sn := w.cs, w.sn
	for n := lo; n < hi; n++ {
		cr, sr := w.c1[n*k.m:(n+1)*k.m], w.s1[n*k.m:(n+1)*k.m]
		gr := w.gx[n*k.m : (n+1)*k.m]
		m := 0
		for ; m+4 <= k.m; m += 4 {
			sa1, ca1 := sr[m], cr[m]
			sb1, cb1 := sr[m+1], cr[m+1]
			sc1, cc1 := sr[m+2], cr[m+2]
			sd1, cd1 := sr[m+3], cr[m+3]
			ca, sa, cb, sb, cc, sc, cd, sd := 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0
			a4 := cs[m*nk : (m+4)*nk]
			b4 := sn[m*nk : (m+4)*nk]
			var ga, gb, gc, gd float64
			for j := 1; j < nk; j++ {
				ca, sa = ca*ca1-sa*sa1, sa*ca1+ca*sa1
				cb, sb = cb*cb1-sb*sb1, sb*cb1+cb*sb1
				cc, sc = cc*cc1-sc*sc1, sc*cc1+cc*sc1
				cd, sd = cd*cd1-sd*sd1, sd*cd1+cd*sd1
				ga += a4[j]*ca - b4[j]*sa
				gb += a4[nk+j]*cb - b4[nk+j]*sb
				gc += a4[2*nk+j]*cc - b4[2*nk+j]*sc
				gd += a4[3*nk+j]*cd - b4[3*nk+j]*sd
			}
			gr[m], gr[m+1], gr[m+2], gr[m+3] = ga, gb, gc, gd
		}
		for ; m < k.m; m++ {
			sm1, cm1 := sr[m], cr[m]
			c, s := 1.0, 0.0
			a := cs[m*nk : (m+1)*nk]
			b := sn[m*nk : (m+1)*nk]
			var sum float64
			for j := 1; j < nk; j++ {
				c, s = c*cm1-s*sm1, s*cm1+c*sm1
				sum += a[j]*c - b[j]*s
			}
			gr[m] = sum
		}
	}
}
