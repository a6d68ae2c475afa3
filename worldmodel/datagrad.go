package worldmodel

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dataGradOp is the whole gradient of a one-input dense layer whose input
// x is data (the encoder's first layer, which has no gradient for x):
// with δ = g ⊙ 1[y > 0] (g itself without the ReLU),
//
//	∂L/∂W = xᵀ·δ,   ∂L/∂b = Σ_rows δ,
//
// in one pass over δ instead of three ops (mask, product, column sum), and
// split along the rows, the product's inner dimension: x has many rows
// (one per patch) and few columns, so the product's own rows are too few
// to share between cores. The rows are cut into parts that any core may
// compute, each into partial sums of its own, which are then added in
// part order, so the result does not depend on who computed which part.
// The op's value is ∂L/∂W; ∂L/∂b, computed by the same pass, is the value
// of a biasGradOp that reads it.
type dataGradOp struct {
	rows, in, out int
	relu          bool
	dW, db        *tensor.Dense
	job           *dataGradJob
	pool          *pool
}

// dataGradParts is the number of parts of a dataGradOp's rows: enough to
// share between the cores of a small machine in chunks, few enough that
// adding the partial sums costs little.
const dataGradParts = 8

// dataGradJob is a dataGradOp's work on a range of parts.
type dataGradJob struct {
	op       *dataGradOp
	parts    int
	x, y, g  []float32
	delta    []float32 // rows×out, the masked gradient
	pdW, pdb []float32 // parts×in×out and parts×out, the partial sums
}

// newDataGrad applies a dataGradOp to the layer's output y, the gradient
// g of the loss with respect to y and the layer's input x, and returns
// the gradients of W and, when bias is set, of b.
func newDataGrad(p *pool, rows, in, out int, relu, bias bool, y, g, x *G.Node) (gw, gb *G.Node) {
	parts := max(min(dataGradParts, rows), 1)
	op := dataGradOp{rows: rows, in: in, out: out, relu: relu, pool: p,
		dW: newMatrix(in, out), db: newMatrix(1, out),
		job: &dataGradJob{parts: parts, pdW: make([]float32, parts*in*out), pdb: make([]float32, parts*out)}}
	if relu {
		op.job.delta = make([]float32, rows*out)
	}
	gw = must(G.ApplyOp(op, y, g, x))
	if bias {
		gb = must(G.ApplyOp(biasGradOp{src: op.db, cols: out}, gw))
	}
	return gw, gb
}

func (op dataGradOp) Arity() int    { return 3 }
func (op dataGradOp) Type() hm.Type { return fnType(3) }
func (op dataGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.in, op.out}, nil
}

func (op dataGradOp) Do(vals ...G.Value) (G.Value, error) {
	j := op.job
	j.op, j.y, j.g, j.x = &op, data(vals[0]), data(vals[1]), data(vals[2])
	op.pool.split(j.parts, 1, op.rows*op.in*op.out, j)
	dW, db := op.dW.Float32s(), op.db.Float32s()
	n := op.in * op.out
	copy(dW, j.pdW[:n])
	copy(db, j.pdb[:op.out])
	for p := 1; p < j.parts; p++ {
		for i, v := range j.pdW[p*n : (p+1)*n] {
			dW[i] += v
		}
		for i, v := range j.pdb[p*op.out : (p+1)*op.out] {
			db[i] += v
		}
	}
	j.op, j.x, j.y, j.g = nil, nil, nil, nil
	return op.dW, nil
}

func (j *dataGradJob) run(lo, hi int) {
	op := j.op
	in, out := op.in, op.out
	for p := lo; p < hi; p++ {
		r0, r1 := p*op.rows/j.parts, (p+1)*op.rows/j.parts
		delta := j.g[r0*out : r1*out]
		if op.relu {
			y, d := j.y[r0*out:r1*out], j.delta[r0*out:r1*out]
			for i, v := range y {
				keep := uint32(int32(-math.Float32bits(v)) >> 31)
				d[i] = math.Float32frombits(math.Float32bits(delta[i]) & keep)
			}
			delta = d
		}
		db := j.pdb[p*out : (p+1)*out]
		clear(db)
		for r := 0; r < r1-r0; r++ {
			for c, v := range delta[r*out : (r+1)*out] {
				db[c] += v
			}
		}
		gemmT(false, true, false, in, out, r1-r0, j.x[r0*in:], in, delta, out, 0, j.pdW[p*in*out:(p+1)*in*out], out)
	}
}

func (op dataGradOp) ReturnsPtr() bool      { return false }
func (op dataGradOp) CallsExtern() bool     { return false }
func (op dataGradOp) OverwritesInput() int  { return -1 }
func (op dataGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op dataGradOp) Hashcode() uint32      { return hashString(op.String()) }
func (op dataGradOp) String() string {
	return fmt.Sprintf("DataGrad(%d×%d→%d, relu %v)", op.rows, op.in, op.out, op.relu)
}

// biasGradOp is the bias gradient that a dataGradOp computed along with
// the weights' gradient, its only input, which orders it after that op.
type biasGradOp struct {
	src  *tensor.Dense
	cols int
}

func (op biasGradOp) Arity() int    { return 1 }
func (op biasGradOp) Type() hm.Type { return fnType(1) }
func (op biasGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{1, op.cols}, nil
}
func (op biasGradOp) Do(...G.Value) (G.Value, error) { return op.src, nil }
func (op biasGradOp) ReturnsPtr() bool               { return false }
func (op biasGradOp) CallsExtern() bool              { return false }
func (op biasGradOp) OverwritesInput() int           { return -1 }
func (op biasGradOp) WriteHash(h hash.Hash)          { fmt.Fprint(h, op.String()) }
func (op biasGradOp) Hashcode() uint32               { return hashString(op.String()) }
func (op biasGradOp) String() string                 { return fmt.Sprintf("BiasGrad(%d)", op.cols) }
