package worldmodel

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The training graph's layers are fused gorgonia ops. Built from
// gorgonia's own ops, a layer x·W + b followed by a ReLU is a product, a
// broadcast (a repeat and an add) and a mask (a comparison and a product),
// each allocating its result, and twice as many ops again for the
// gradient. The fused ops below compute a layer in one op and its
// gradient in four, on float32 slices with BLAS, into buffers they own
// and reuse from one run to the next (the graph's shapes are fixed).

// gemmT computes c = op(a)·op(b) + beta·c for row-major matrices, where
// op(a) is m×k (a is k×m when tA) and op(b) is k×n (b is n×k when tB).
//
// gonum's pure-Go Sgemm spreads products of four or more 64×64 blocks
// over goroutines, which allocates. With serial set, the product is cut
// into blocks of at most 64 rows and 192 columns, which it computes
// serially without allocating (the inference path); otherwise it gets the
// whole product (the training graph). OpenBLAS always gets the whole
// product.
func gemmT(serial, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	impl := blas32.Implementation()
	if _, native := impl.(gonum.Implementation); !native || !serial {
		impl.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	const rowBlock, colBlock = 64, 192
	for i := 0; i < m; i += rowBlock {
		mi := min(rowBlock, m-i)
		var ai []float32
		if tA {
			ai = a[i:]
		} else {
			ai = a[i*lda:]
		}
		for j := 0; j < n; j += colBlock {
			nj := min(colBlock, n-j)
			var bj []float32
			if tB {
				bj = b[j*ldb:]
			} else {
				bj = b[j:]
			}
			impl.Sgemm(ta, tb, mi, nj, k, 1, ai, lda, bj, ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

// matType is the gorgonia type of a float32 matrix.
func matType() hm.Type { return G.TensorType{Dims: 2, Of: G.Float32} }

func fnType(arity int) hm.Type {
	ts := make([]hm.Type, arity+1)
	for i := range ts {
		ts[i] = matType()
	}
	return hm.NewFnType(ts...)
}

func hashString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// data returns the float32 slice of a dense value.
func data(v G.Value) []float32 {
	d, ok := v.(*tensor.Dense)
	if !ok {
		panic(fmt.Sprintf("worldmodel: value %T is not a dense tensor", v))
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	return d.Float32s()
}

func newMatrix(rows, cols int) *tensor.Dense {
	return tensor.New(tensor.WithBacking(make([]float32, rows*cols)), tensor.WithShape(rows, cols))
}

// denseOp is one layer,
//
//	y = act(Σ_i x_i·W_i + b + r),
//
// with inputs x_1, W_1, …, x_n, W_n, then the bias b (1×out) when bias is
// set and the residual r (rows×out) when residual is set; act is the ReLU
// or the identity.
type denseOp struct {
	rows, out int
	ins       []int // columns of each x_i
	bias      bool
	residual  bool
	relu      bool
	y         *tensor.Dense
	pool      *pool     // splits the rows over the cores; nil runs serially
	job       *denseJob // the op's work on a range of rows, reused by every run
	// dataX marks x_1 as data (the encoder's frames): the op has no
	// gradient for it, which saves the product δ·W_1ᵀ, the largest of the
	// encoder's backward pass.
	dataX bool
}

// dense applies a denseOp to pairs (x_i, W_i), an optional bias and an
// optional residual (nil when absent); pool splits its rows over the
// cores.
func dense(p *pool, pairs []*G.Node, b, r *G.Node, relu bool) *G.Node {
	return denseData(p, pairs, b, r, relu, false)
}

// denseData is dense with, when dataX is set, no gradient for x_1.
func denseData(p *pool, pairs []*G.Node, b, r *G.Node, relu, dataX bool) *G.Node {
	rows := pairs[0].Shape()[0]
	out := pairs[1].Shape()[1]
	op := denseOp{rows: rows, out: out, bias: b != nil, residual: r != nil, relu: relu, pool: p, job: new(denseJob), dataX: dataX}
	if len(pairs) > 2*maxDenseInputs {
		panic(fmt.Sprintf("worldmodel: dense: %d inputs, at most %d", len(pairs)/2, maxDenseInputs))
	}
	inputs := append([]*G.Node(nil), pairs...)
	for i := 0; i < len(pairs); i += 2 {
		x, w := pairs[i].Shape(), pairs[i+1].Shape()
		if x[0] != rows || x[1] != w[0] || w[1] != out {
			panic(fmt.Sprintf("worldmodel: dense: x %v and W %v do not fit rows %d, out %d", x, w, rows, out))
		}
		op.ins = append(op.ins, x[1])
	}
	if b != nil {
		inputs = append(inputs, b)
	}
	if r != nil {
		inputs = append(inputs, r)
	}
	op.y = newMatrix(rows, out)
	return must(G.ApplyOp(op, inputs...))
}

func (op denseOp) Arity() int {
	n := 2 * len(op.ins)
	if op.bias {
		n++
	}
	if op.residual {
		n++
	}
	return n
}

func (op denseOp) Type() hm.Type { return fnType(op.Arity()) }

func (op denseOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows, op.out}, nil
}

func (op denseOp) Do(vals ...G.Value) (G.Value, error) {
	j := op.job
	*j = denseJob{op: &op, y: op.y.Float32s()}
	k := 2 * len(op.ins)
	work := 0
	for i, in := range op.ins {
		j.x[i], j.w[i] = data(vals[2*i]), data(vals[2*i+1])
		work += op.rows * in * op.out
	}
	if op.bias {
		j.b = data(vals[k])
	}
	if op.residual {
		j.r = data(vals[len(vals)-1])
	}
	op.pool.split(op.rows, 16, work, j)
	*j = denseJob{}
	return op.y, nil
}

// maxDenseInputs bounds the (x_i, W_i) pairs of a denseOp.
const maxDenseInputs = 2

// denseJob is a denseOp's forward pass on a range of rows.
type denseJob struct {
	op      *denseOp
	x, w    [maxDenseInputs][]float32
	b, r, y []float32
}

func (j *denseJob) run(lo, hi int) {
	op, out := j.op, j.op.out
	y := j.y[lo*out : hi*out]
	// The first product overwrites y unless the residual is there first;
	// the bias and the ReLU then take one pass over y.
	beta := float32(0)
	if op.residual {
		copy(y, j.r[lo*out:hi*out])
		beta = 1
	}
	for i, in := range op.ins {
		gemmT(false, false, false, hi-lo, out, in, j.x[i][lo*in:hi*in], in, j.w[i], out, beta, y, out)
		beta = 1
	}
	switch {
	case op.bias && op.relu:
		for r := 0; r < hi-lo; r++ {
			row := y[r*out : (r+1)*out : (r+1)*out]
			for c, v := range j.b[:out] {
				u := math.Float32bits(row[c] + v)
				row[c] = math.Float32frombits(u &^ uint32(int32(u)>>31))
			}
		}
	case op.bias:
		for r := 0; r < hi-lo; r++ {
			row := y[r*out : (r+1)*out : (r+1)*out]
			for c, v := range j.b[:out] {
				row[c] += v
			}
		}
	case op.relu:
		relu(y)
	}
}

func (op denseOp) ReturnsPtr() bool      { return false }
func (op denseOp) CallsExtern() bool     { return false }
func (op denseOp) OverwritesInput() int  { return -1 }
func (op denseOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op denseOp) Hashcode() uint32      { return hashString(op.String()) }
func (op denseOp) String() string {
	return fmt.Sprintf("Dense(%d×%v→%d, bias %v, residual %v, relu %v, data %v)", op.rows, op.ins, op.out, op.bias, op.residual, op.relu, op.dataX)
}

func (op denseOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	d[0] = !op.dataX
	return d
}

// SymDiff returns the gradients: with δ = ∂L/∂y ⊙ act′ (the ReLU's mask
// 1[y > 0]),
//
//	∂L/∂x_i = δ·W_iᵀ,   ∂L/∂W_i = x_iᵀ·δ,   ∂L/∂b = Σ_rows δ,   ∂L/∂r = δ.
func (op denseOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.dataX && len(op.ins) == 1 && !op.residual {
		grads := make(G.Nodes, len(inputs))
		grads[1], grads[len(grads)-1] = newDataGrad(op.pool, op.rows, op.ins[0], op.out, op.relu, op.bias, output, grad, inputs[0])
		return grads, nil
	}
	delta := grad
	if op.relu {
		delta = must(G.ApplyOp(maskOp{rows: op.rows, cols: op.out, out: newMatrix(op.rows, op.out)}, output, grad))
	}
	grads := make(G.Nodes, len(inputs))
	for i, in := range op.ins {
		x, w := inputs[2*i], inputs[2*i+1]
		if i == 0 && op.dataX {
			grads[1] = must(G.ApplyOp(matMulOp{m: in, n: op.out, k: op.rows, tA: true, out: newMatrix(in, op.out), pool: op.pool, job: new(matMulJob)}, x, delta))
			continue
		}
		grads[2*i] = must(G.ApplyOp(matMulOp{m: op.rows, n: in, k: op.out, tB: true, out: newMatrix(op.rows, in), pool: op.pool, job: new(matMulJob)}, delta, w))
		grads[2*i+1] = must(G.ApplyOp(matMulOp{m: in, n: op.out, k: op.rows, tA: true, out: newMatrix(in, op.out), pool: op.pool, job: new(matMulJob)}, x, delta))
	}
	k := 2 * len(op.ins)
	if op.bias {
		grads[k] = must(G.ApplyOp(colSumOp{rows: op.rows, cols: op.out, out: newMatrix(1, op.out)}, delta))
		k++
	}
	if op.residual {
		grads[k] = delta
	}
	return grads, nil
}

// maskOp is g ⊙ 1[y > 0], the gradient through a ReLU of output y.
type maskOp struct {
	rows, cols int
	out        *tensor.Dense
}

func (op maskOp) Arity() int    { return 2 }
func (op maskOp) Type() hm.Type { return fnType(2) }
func (op maskOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows, op.cols}, nil
}
func (op maskOp) Do(vals ...G.Value) (G.Value, error) {
	y, g, out := data(vals[0]), data(vals[1]), op.out.Float32s()
	for i, v := range y {
		// All ones when v > 0, else zero, without a branch.
		keep := uint32(int32(-math.Float32bits(v)) >> 31)
		out[i] = math.Float32frombits(math.Float32bits(g[i]) & keep)
	}
	return op.out, nil
}
func (op maskOp) ReturnsPtr() bool      { return false }
func (op maskOp) CallsExtern() bool     { return false }
func (op maskOp) OverwritesInput() int  { return -1 }
func (op maskOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op maskOp) Hashcode() uint32      { return hashString(op.String()) }
func (op maskOp) String() string        { return fmt.Sprintf("ReLUMask(%d×%d)", op.rows, op.cols) }

// matMulOp is op(a)·op(b) into an m×n buffer (k the inner dimension); it
// serves the gradients of denseOp, which are not differentiated again.
type matMulOp struct {
	m, n, k int
	tA, tB  bool
	out     *tensor.Dense
	pool    *pool      // splits the rows of the product over the cores
	job     *matMulJob // the op's work on a range of rows, reused by every run
}

func (op matMulOp) Arity() int    { return 2 }
func (op matMulOp) Type() hm.Type { return fnType(2) }
func (op matMulOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.m, op.n}, nil
}
func (op matMulOp) Do(vals ...G.Value) (G.Value, error) {
	j := op.job
	*j = matMulJob{op: &op, a: data(vals[0]), b: data(vals[1]), c: op.out.Float32s()}
	op.pool.split(op.m, 16, op.m*op.n*op.k, j)
	*j = matMulJob{}
	return op.out, nil
}

// matMulJob is a matMulOp on a range of the product's rows.
type matMulJob struct {
	op      *matMulOp
	a, b, c []float32
}

func (j *matMulJob) run(lo, hi int) {
	op := j.op
	lda, ldb := op.k, op.n
	a := j.a[lo*lda:]
	if op.tA {
		lda = op.m
		a = j.a[lo:]
	}
	if op.tB {
		ldb = op.k
	}
	gemmT(false, op.tA, op.tB, hi-lo, op.n, op.k, a, lda, j.b, ldb, 0, j.c[lo*op.n:], op.n)
}

func (op matMulOp) ReturnsPtr() bool      { return false }
func (op matMulOp) CallsExtern() bool     { return false }
func (op matMulOp) OverwritesInput() int  { return -1 }
func (op matMulOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op matMulOp) Hashcode() uint32      { return hashString(op.String()) }
func (op matMulOp) String() string {
	return fmt.Sprintf("MatMul(%d×%d×%d, %v, %v)", op.m, op.k, op.n, op.tA, op.tB)
}

// colSumOp sums the rows of a matrix into a 1×cols row.
type colSumOp struct {
	rows, cols int
	out        *tensor.Dense
}

func (op colSumOp) Arity() int    { return 1 }
func (op colSumOp) Type() hm.Type { return fnType(1) }
func (op colSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{1, op.cols}, nil
}
func (op colSumOp) Do(vals ...G.Value) (G.Value, error) {
	x, out := data(vals[0]), op.out.Float32s()
	clear(out)
	for r := 0; r < op.rows; r++ {
		for j, v := range x[r*op.cols : (r+1)*op.cols] {
			out[j] += v
		}
	}
	return op.out, nil
}
func (op colSumOp) ReturnsPtr() bool      { return false }
func (op colSumOp) CallsExtern() bool     { return false }
func (op colSumOp) OverwritesInput() int  { return -1 }
func (op colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op colSumOp) Hashcode() uint32      { return hashString(op.String()) }
func (op colSumOp) String() string        { return fmt.Sprintf("ColSum(%d×%d)", op.rows, op.cols) }

// tapOp copies its input's value, when the machine reaches it, into a
// slice it owns. Values read from graph nodes after a run are not safe:
// the machine reuses a node's memory for later nodes once it is dead.
// The op's own output is a dummy scalar that nothing reads.
type tapOp struct {
	dims int
	dst  []float32
	out  *G.F32
}

// tap adds a tapOp of n and returns the slice that receives n's value.
func tap(n *G.Node) []float32 {
	op := tapOp{dims: n.Dims(), dst: make([]float32, max(n.Shape().TotalSize(), 1)), out: G.NewF32(0)}
	must(G.ApplyOp(op, n))
	return op.dst
}

func (op tapOp) Arity() int { return 1 }
func (op tapOp) Type() hm.Type {
	var in hm.Type = G.Float32
	if op.dims > 0 {
		in = G.TensorType{Dims: op.dims, Of: G.Float32}
	}
	return hm.NewFnType(in, G.Float32)
}
func (op tapOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op tapOp) Do(vals ...G.Value) (G.Value, error) {
	switch v := vals[0].(type) {
	case *G.F32:
		op.dst[0] = float32(*v)
	default:
		copy(op.dst, data(v))
	}
	return op.out, nil
}
func (op tapOp) ReturnsPtr() bool      { return false }
func (op tapOp) CallsExtern() bool     { return false }
func (op tapOp) OverwritesInput() int  { return -1 }
func (op tapOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op tapOp) Hashcode() uint32      { return hashString(op.String()) }
func (op tapOp) String() string        { return fmt.Sprintf("Tap(%p)", op.dst) }

// logVarOp is the effective log-variance of the predictor,
//
//	log σ² = log(exp(softBound(v; lo, hi)) + floor) = log(e^lo + e^hi·s(v − hi) + floor)
//
// with s the logistic sigmoid, elementwise (see Model.variance for the
// identity). It equals loss.SoftBound followed by exp, add and log, in one
// op with one exponential per element instead of six; with grad set it is
// its derivative, taking (v, ∂L/∂y):
//
//	∂y/∂v = e^hi·s(1−s) / (e^lo + e^hi·s + floor).
type logVarOp struct {
	rows, cols    int
	lo, hi, floor float64
	expLo, expHi  float64
	grad          bool
	out           *tensor.Dense
}

func logVar(raw *G.Node, lo, hi, floor float64) *G.Node {
	sh := raw.Shape()
	op := logVarOp{rows: sh[0], cols: sh[1], lo: lo, hi: hi, floor: floor,
		expLo: math.Exp(lo), expHi: math.Exp(hi), out: newMatrix(sh[0], sh[1])}
	return must(G.ApplyOp(op, raw))
}

func (op logVarOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op logVarOp) Type() hm.Type { return fnType(op.Arity()) }
func (op logVarOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows, op.cols}, nil
}
func (op logVarOp) Do(vals ...G.Value) (G.Value, error) {
	v, out := data(vals[0]), op.out.Float32s()
	var g []float32
	if op.grad {
		g = data(vals[1])
	}
	// In float32, with exp32 and log32: the op's values are float32 and
	// the sum is at least e^lo + floor, far from zero.
	hi, expLo, expHi, floor := float32(op.hi), float32(op.expLo), float32(op.expHi), float32(op.floor)
	if op.grad {
		for i, x := range v {
			s := 1 / (1 + exp32(hi-x))
			out[i] = g[i] * expHi * s * (1 - s) / (expLo + expHi*s + floor)
		}
		return op.out, nil
	}
	for i, x := range v {
		s := 1 / (1 + exp32(hi-x))
		out[i] = log32(expLo + expHi*s + floor)
	}
	return op.out, nil
}
func (op logVarOp) DiffWRT(n int) []bool { return []bool{true} }
func (op logVarOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d := op
	d.grad = true
	d.out = newMatrix(op.rows, op.cols)
	return G.Nodes{must(G.ApplyOp(d, inputs[0], grad))}, nil
}
func (op logVarOp) ReturnsPtr() bool      { return false }
func (op logVarOp) CallsExtern() bool     { return false }
func (op logVarOp) OverwritesInput() int  { return -1 }
func (op logVarOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op logVarOp) Hashcode() uint32      { return hashString(op.String()) }
func (op logVarOp) String() string {
	return fmt.Sprintf("LogVar(%d×%d, %g, %g, %g, %v)", op.rows, op.cols, op.lo, op.hi, op.floor, op.grad)
}

// rowGateOp keeps or replaces whole rows: with a gate g_r ∈ {0, 1} per row
// (rows×1),
//
//	y_r = g_r·x_r + (1 − g_r)·f_r,
//
// where f is the fill (rows×cols), or zero when the op has no fill input.
// The prediction loss uses it to drop transitions after a terminal step:
// their mean is replaced by the target and their log-variance and factor
// by zero, so that they add a constant to the loss and nothing to its
// gradient. Only x is differentiated.
type rowGateOp struct {
	rows, cols int
	fill       bool
	out        *tensor.Dense
}

func rowGate(x, gate, fill *G.Node) *G.Node {
	sh := x.Shape()
	op := rowGateOp{rows: sh[0], cols: sh[1], fill: fill != nil, out: newMatrix(sh[0], sh[1])}
	if fill != nil {
		return must(G.ApplyOp(op, x, gate, fill))
	}
	return must(G.ApplyOp(op, x, gate))
}

func (op rowGateOp) Arity() int {
	if op.fill {
		return 3
	}
	return 2
}
func (op rowGateOp) Type() hm.Type { return fnType(op.Arity()) }
func (op rowGateOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows, op.cols}, nil
}
func (op rowGateOp) Do(vals ...G.Value) (G.Value, error) {
	x, g, out := data(vals[0]), data(vals[1]), op.out.Float32s()
	var f []float32
	if op.fill {
		f = data(vals[2])
	}
	for r := 0; r < op.rows; r++ {
		lo, hi := r*op.cols, (r+1)*op.cols
		switch {
		case g[r] != 0:
			copy(out[lo:hi], x[lo:hi])
		case f != nil:
			copy(out[lo:hi], f[lo:hi])
		default:
			clear(out[lo:hi])
		}
	}
	return op.out, nil
}
func (op rowGateOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

// SymDiff passes the gradient through the kept rows: ∂L/∂x_r = g_r·∂L/∂y_r.
func (op rowGateOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	gop := rowGateOp{rows: op.rows, cols: op.cols, out: newMatrix(op.rows, op.cols)}
	out := make(G.Nodes, len(inputs))
	out[0] = must(G.ApplyOp(gop, grad, inputs[1]))
	return out, nil
}
func (op rowGateOp) ReturnsPtr() bool      { return false }
func (op rowGateOp) CallsExtern() bool     { return false }
func (op rowGateOp) OverwritesInput() int  { return -1 }
func (op rowGateOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op rowGateOp) Hashcode() uint32      { return hashString(op.String()) }
func (op rowGateOp) String() string {
	return fmt.Sprintf("RowGate(%d×%d, fill %v)", op.rows, op.cols, op.fill)
}

// rmsEps is the ε of the root-mean-square normalisation, relative to a
// mean square of 1.
const rmsEps = 1e-6

// rmsNormRow writes y = x/√(mean(x²) + ε) into y and returns the scale
// s = 1/√(mean(x²) + ε).
func rmsNormRow(y, x []float32) float32 {
	var sq float32
	for _, v := range x {
		sq += v * v
	}
	s := float32(1 / math.Sqrt(float64(sq)/float64(len(x))+rmsEps))
	for i, v := range x {
		y[i] = v * s
	}
	return s
}

// rmsNormOp divides each row of x (rows×cols) by its root-mean-square
// value, y_r = s_r·x_r with s_r = (mean(x_r²) + ε)^{−1/2}. Its gradient is
//
//	∂L/∂x_r = s_r·(g_r − y_r·⟨g_r, y_r⟩/cols),   g = ∂L/∂y.
type rmsNormOp struct {
	rows, cols int
	grad       bool
	out        *tensor.Dense
}

func rmsNorm(x *G.Node) *G.Node {
	sh := x.Shape()
	op := rmsNormOp{rows: sh[0], cols: sh[1], out: newMatrix(sh[0], sh[1])}
	return must(G.ApplyOp(op, x))
}

func (op rmsNormOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op rmsNormOp) Type() hm.Type { return fnType(op.Arity()) }
func (op rmsNormOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows, op.cols}, nil
}
func (op rmsNormOp) Do(vals ...G.Value) (G.Value, error) {
	x, out := data(vals[0]), op.out.Float32s()
	n := op.cols
	for r := 0; r < op.rows; r++ {
		xr, yr := x[r*n:(r+1)*n], out[r*n:(r+1)*n]
		s := rmsNormRow(yr, xr)
		if !op.grad {
			continue
		}
		g := data(vals[1])[r*n : (r+1)*n]
		var dot float32
		for i, y := range yr {
			dot += g[i] * y
		}
		dot /= float32(n)
		for i, y := range yr {
			yr[i] = s * (g[i] - y*dot)
		}
	}
	return op.out, nil
}
func (op rmsNormOp) DiffWRT(n int) []bool { return []bool{true} }
func (op rmsNormOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d := op
	d.grad = true
	d.out = newMatrix(op.rows, op.cols)
	return G.Nodes{must(G.ApplyOp(d, inputs[0], grad))}, nil
}
func (op rmsNormOp) ReturnsPtr() bool      { return false }
func (op rmsNormOp) CallsExtern() bool     { return false }
func (op rmsNormOp) OverwritesInput() int  { return -1 }
func (op rmsNormOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op rmsNormOp) Hashcode() uint32      { return hashString(op.String()) }
func (op rmsNormOp) String() string {
	return fmt.Sprintf("RMSNorm(%d×%d, %v)", op.rows, op.cols, op.grad)
}
