package loss

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"sync"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrShape reports inputs whose shapes or dtypes do not fit together (a
// mean whose shape differs from its target, a factor of the wrong width, a
// Float32 mean for a Float64 target).
var ErrShape = errors.New("shape mismatch")

// ErrOption reports an option or argument outside its domain (a negative β,
// fewer than two SIGReg knots, a soft bound with lo ≥ hi).
var ErrOption = errors.New("invalid option")

// kernel is the float64 arithmetic of a fused scalar loss over a fixed set of
// input shapes. The fused op converts values to and from the graph's dtype
// and hands the kernel flat row-major slices.
type kernel interface {
	// String names the loss with its parameters; it is also the op's hash.
	String() string
	// workLen is the length of the scratch slice that loss and grad use.
	workLen() int
	// loss returns the scalar loss of the inputs.
	loss(in [][]float64, work []float64) float64
	// grad overwrites out[i] (len(in[i]) each) with g·∂loss/∂in[i].
	grad(in [][]float64, g float64, out [][]float64, work []float64)
}

// keeper is a kernel whose gradient can start from what its loss left in
// the work slice (SIGReg's projections and moments), instead of computing
// it again.
type keeper interface {
	// gradKept is grad with work as loss left it for the same inputs,
	// computed on the calling goroutine alone.
	gradKept(in [][]float64, g float64, out [][]float64, work []float64)
}

// kept is the gradient of a keeper's last forward pass: the forward pass
// hands over its inputs and its work slice (swapped, not copied) and the
// gradient at g = 1 is computed on a goroutine of its own, beside the
// rest of the graph, while the machine runs the ops between the loss and
// its gradient. The gradient op then scales it by its g. It uses it only
// when its own inputs are equal, value for value, to the forward pass's,
// so a gradient evaluated without its forward pass, or after a forward
// pass on other inputs, computes everything.
type kept struct {
	mu   sync.Mutex
	in   [][]float64 // the inputs of the last forward pass
	work []float64
	out  [][]float64   // their gradient at g = 1
	done chan struct{} // closed when out is written; nil before the first forward pass
	ok   bool          // out is not yet handed to a gradient

	// beside makes the forward pass start the loss as well on the
	// goroutine (see SIGRegBeside); loss is its value once lossDone is
	// closed (nil otherwise).
	beside   bool
	loss     float64
	lossDone chan struct{}
}

// start records the inputs of a forward pass of k and starts computing
// their gradient at g = 1 on a goroutine. The forward pass has computed
// the loss into *work, which start takes over (leaving a slice of the
// same length in its place); beside the graph (kp.beside) the goroutine
// computes the loss first, into the kept work.
func (kp *kept) start(k kernel, in [][]float64, work *[]float64) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.done != nil {
		<-kp.done // the buffers are the previous gradient's until it ends
	}
	if kp.in == nil {
		for _, x := range in {
			kp.in = append(kp.in, make([]float64, len(x)))
			kp.out = append(kp.out, make([]float64, len(x)))
		}
		kp.work = make([]float64, k.workLen())
	}
	for i, x := range in {
		copy(kp.in[i], x)
	}
	var lossDone chan struct{}
	if kp.beside {
		lossDone = make(chan struct{})
	} else {
		kp.work, *work = *work, kp.work
	}
	done := make(chan struct{})
	kp.lossDone, kp.done, kp.ok = lossDone, done, true
	kin, kout, kwork := kp.in, kp.out, kp.work
	go func() {
		defer close(done)
		if lossDone != nil {
			kp.loss = k.loss(kin, kwork)
			close(lossDone)
		}
		k.(keeper).gradKept(kin, 1, kout, kwork)
	}()
}

// settled waits for the loss that the last forward pass started.
func (kp *kept) settled() (float64, error) {
	kp.mu.Lock()
	lossDone := kp.lossDone
	kp.mu.Unlock()
	if lossDone == nil {
		return 0, errors.New("loss: Settle ran before the loss it settles")
	}
	<-lossDone
	return kp.loss, nil
}

// take writes g times the gradient of the last forward pass into out, once
// it is computed, and reports whether that pass's inputs equal in; it
// hands each gradient over once.
func (kp *kept) take(in [][]float64, g float64, out [][]float64) bool {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if !kp.ok || len(in) != len(kp.in) {
		return false
	}
	<-kp.done
	for i, x := range in {
		y := kp.in[i]
		if len(x) != len(y) || len(out[i]) != len(y) {
			return false
		}
		for j, v := range x {
			if v != y[j] {
				return false
			}
		}
	}
	kp.ok = false
	for i, o := range kp.out {
		for j, v := range o {
			out[i][j] = g * v
		}
	}
	return true
}

// scratch is the reusable memory of one evaluation of a fused op.
type scratch struct {
	in   [][]float64 // inputs converted to float64 (Float32 graphs only)
	out  [][]float64 // gradients before conversion (Float32 graphs only)
	work []float64   // the kernel's own scratch
	inp  [][]float64 // the slices handed to the kernel as inputs
	outp [][]float64 // the slices handed to the kernel as gradients
}

// fused holds what the forward and the gradient op of one loss share.
type fused struct {
	k      kernel
	dt     tensor.Dtype
	shapes []tensor.Shape
	sizes  []int
	total  int // Σ sizes: the length of the packed gradient
	pool   *sync.Pool
	packed *packedBuf
	kept   *kept // for keepers only
}

// packedBuf is the memory of the packed gradient, reused from one
// evaluation to the next once every unpack node has read it. If an
// evaluation starts while some reader has not read the previous one (a
// machine that runs only part of the graph), it gets a fresh tensor.
type packedBuf struct {
	mu      sync.Mutex
	t       *tensor.Dense
	pending int // unpack nodes that have not yet read t
}

func (p *packedBuf) acquire(dt tensor.Dtype, n, readers int) *tensor.Dense {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.t == nil:
		p.t = tensor.New(tensor.Of(dt), tensor.WithShape(n))
	case p.pending > 0:
		return tensor.New(tensor.Of(dt), tensor.WithShape(n))
	}
	p.pending = readers
	return p.t
}

func (p *packedBuf) release(v gorgonia.Value) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := v.(*tensor.Dense); ok && d == p.t && p.pending > 0 {
		p.pending--
	}
}

func newFused(k kernel, nodes []*gorgonia.Node) (*fused, error) {
	f := &fused{k: k, dt: nodes[0].Dtype(), packed: &packedBuf{}}
	if _, ok := k.(keeper); ok {
		f.kept = &kept{}
	}
	for i, n := range nodes {
		if n.Dtype() != f.dt {
			return nil, fmt.Errorf("loss: %v: input %d is %v, input 0 is %v: %w", k, i, n.Dtype(), f.dt, ErrShape)
		}
		if f.dt != tensor.Float64 && f.dt != tensor.Float32 {
			return nil, fmt.Errorf("loss: %v: dtype %v not supported (Float32 or Float64): %w", k, f.dt, ErrShape)
		}
		sh := n.Shape().Clone()
		f.shapes = append(f.shapes, sh)
		f.sizes = append(f.sizes, sh.TotalSize())
		f.total += sh.TotalSize()
	}
	f.pool = &sync.Pool{New: func() any { return f.newScratch() }}
	return f, nil
}

func (f *fused) newScratch() *scratch {
	n := len(f.sizes)
	s := &scratch{work: make([]float64, f.k.workLen()), inp: make([][]float64, 0, n), outp: make([][]float64, 0, n)}
	if f.dt == tensor.Float32 {
		for _, n := range f.sizes {
			s.in = append(s.in, make([]float64, n))
			s.out = append(s.out, make([]float64, n))
		}
	}
	return s
}

// inputs checks the values against the shapes the op was built for and
// returns them as float64 slices, converting Float32 data into s.in.
func (f *fused) inputs(vals []gorgonia.Value, s *scratch, dst [][]float64) ([][]float64, error) {
	for i, sh := range f.shapes {
		v := vals[i]
		if !v.Shape().Eq(sh) {
			return nil, fmt.Errorf("loss: %v: input %d has shape %v, the graph has %v: %w", f.k, i, v.Shape(), sh, ErrShape)
		}
		switch f.dt {
		case tensor.Float64:
			x, err := float64s(v)
			if err != nil {
				return nil, fmt.Errorf("loss: %v: input %d: %w", f.k, i, err)
			}
			dst = append(dst, x)
		default:
			x, err := float32s(v)
			if err != nil {
				return nil, fmt.Errorf("loss: %v: input %d: %w", f.k, i, err)
			}
			for j, xj := range x {
				s.in[i][j] = float64(xj)
			}
			dst = append(dst, s.in[i])
		}
	}
	return dst, nil
}

// float64s returns the row-major data of a Float64 value without copying
// unless the value is a strided view.
func float64s(v gorgonia.Value) ([]float64, error) {
	if d, ok := v.(*tensor.Dense); ok {
		if d.RequiresIterator() {
			d = d.Materialize().(*tensor.Dense)
		}
		return d.Float64s()[:d.Shape().TotalSize()], nil
	}
	if x, ok := v.Data().([]float64); ok {
		return x, nil
	}
	return nil, fmt.Errorf("value %T is not a Float64 tensor", v)
}

func float32s(v gorgonia.Value) ([]float32, error) {
	if d, ok := v.(*tensor.Dense); ok {
		if d.RequiresIterator() {
			d = d.Materialize().(*tensor.Dense)
		}
		return d.Float32s()[:d.Shape().TotalSize()], nil
	}
	if x, ok := v.Data().([]float32); ok {
		return x, nil
	}
	return nil, fmt.Errorf("value %T is not a Float32 tensor", v)
}

// scalarOf reads a scalar value (a gradient flowing into a loss).
func scalarOf(v gorgonia.Value) (float64, error) {
	switch x := v.(type) {
	case *gorgonia.F64:
		return float64(*x), nil
	case *gorgonia.F32:
		return float64(*x), nil
	}
	if v.Shape().TotalSize() == 1 {
		switch d := v.Data().(type) {
		case float64:
			return d, nil
		case float32:
			return float64(d), nil
		case []float64:
			return d[0], nil
		case []float32:
			return float64(d[0]), nil
		}
	}
	return 0, fmt.Errorf("gradient %T of shape %v is not a scalar", v, v.Shape())
}

// dense returns prealloc when it is a tensor of the given dtype and shape,
// otherwise a new one.
func dense(prealloc gorgonia.Value, dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if d, ok := prealloc.(*tensor.Dense); ok && d.Dtype() == dt && d.Shape().Eq(shape) && !d.IsMaterializable() {
		return d
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
}

// typeOf returns the gorgonia type of a node of the given dims over a.
func typeOf(dims int, a hm.Type) hm.Type {
	if dims == 0 {
		return a
	}
	return gorgonia.TensorType{Dims: dims, Of: a}
}

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// lossOp is the forward node of a fused loss: inputs → scalar.
type lossOp struct{ *fused }

func applyLoss(k kernel, nodes ...*gorgonia.Node) (*gorgonia.Node, error) {
	f, err := newFused(k, nodes)
	if err != nil {
		return nil, err
	}
	n, err := gorgonia.ApplyOp(lossOp{f}, nodes...)
	if err != nil {
		return nil, fmt.Errorf("loss: %v: %w", k, err)
	}
	return n, nil
}

func (op lossOp) Arity() int { return len(op.shapes) }

func (op lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(op.shapes)+1)
	for _, s := range op.shapes {
		ts = append(ts, typeOf(s.Dims(), a))
	}
	return hm.NewFnType(append(ts, a)...)
}

func (op lossOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op lossOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vals...)
}

// UsePreallocDo evaluates the loss, writing into prealloc when it is a
// scalar of the graph's dtype.
func (op lossOp) UsePreallocDo(prealloc gorgonia.Value, vals ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("loss: %v: %d inputs, want %d", op.k, len(vals), op.Arity())
	}
	s := op.pool.Get().(*scratch)
	defer op.pool.Put(s)
	in, err := op.inputs(vals, s, s.inp[:0])
	if err != nil {
		return nil, err
	}
	l := math.NaN() // beside the graph, a placeholder: Settle's node has the value
	if op.kept == nil || !op.kept.beside {
		l = op.k.loss(in, s.work)
	}
	if op.kept != nil {
		op.kept.start(op.k, in, &s.work)
	}
	if op.dt == tensor.Float32 {
		if p, ok := prealloc.(*gorgonia.F32); ok {
			*p = gorgonia.F32(l)
			return p, nil
		}
		return gorgonia.NewF32(float32(l)), nil
	}
	if p, ok := prealloc.(*gorgonia.F64); ok {
		*p = gorgonia.F64(l)
		return p, nil
	}
	return gorgonia.NewF64(l), nil
}

func (op lossOp) ReturnsPtr() bool      { return false }
func (op lossOp) CallsExtern() bool     { return false }
func (op lossOp) OverwritesInput() int  { return -1 }
func (op lossOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%v%v", op.k, op.shapes) }
func (op lossOp) Hashcode() uint32      { return hashOf(op) }
func (op lossOp) String() string        { return op.k.String() }
func (op lossOp) DiffWRT(n int) []bool  { return allTrue(n) }

func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// SymDiff returns one gradient node per input: a fused gradient node packs
// every input's gradient into one vector, and an unpack node per input
// copies its block out.
func (op lossOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("loss: %v: %d inputs, want %d", op.k, len(inputs), op.Arity())
	}
	gop := lossGradOp{fused: op.fused, gradDims: grad.Dims()}
	children := append(append(gorgonia.Nodes(nil), inputs...), grad)
	packed, err := gorgonia.ApplyOp(gop, children...)
	if err != nil {
		return nil, fmt.Errorf("loss: %v gradient: %w", op.k, err)
	}
	out := make(gorgonia.Nodes, len(inputs))
	off := 0
	for i, sh := range op.shapes {
		u := unpackOp{dt: op.dt, offset: off, shape: sh, name: op.k.String(), buf: op.packed,
			out: tensor.New(tensor.Of(op.dt), tensor.WithShape(sh.Clone()...))}
		if out[i], err = gorgonia.ApplyOp(u, packed); err != nil {
			return nil, fmt.Errorf("loss: %v gradient of input %d: %w", op.k, i, err)
		}
		off += op.sizes[i]
	}
	return out, nil
}

// DoDiff accumulates the gradients into the inputs' dual values, for
// gorgonia's LispMachine.
func (op lossOp) DoDiff(_ gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	gv, err := output.Grad()
	if err != nil {
		return fmt.Errorf("loss: %v: %w", op.k, err)
	}
	vals := make([]gorgonia.Value, len(inputs)+1)
	for i, n := range inputs {
		vals[i] = n.Value()
	}
	vals[len(inputs)] = gv
	packed := tensor.New(tensor.Of(op.dt), tensor.WithShape(op.total))
	if err := (lossGradOp{fused: op.fused}).compute(packed, vals); err != nil {
		return err
	}
	off := 0
	for i, n := range inputs {
		d, err := n.Grad()
		if err != nil {
			return fmt.Errorf("loss: %v: input %d: %w", op.k, i, err)
		}
		if err := addInto(d, packed, off, op.sizes[i]); err != nil {
			return fmt.Errorf("loss: %v: input %d: %w", op.k, i, err)
		}
		off += op.sizes[i]
	}
	return nil
}

// addInto adds packed[off:off+n] to the data of dst.
func addInto(dst, packed gorgonia.Value, off, n int) error {
	switch p := packed.Data().(type) {
	case []float64:
		d, err := float64s(dst)
		if err != nil {
			return err
		}
		for j := range n {
			d[j] += p[off+j]
		}
	case []float32:
		d, err := float32s(dst)
		if err != nil {
			return err
		}
		for j := range n {
			d[j] += p[off+j]
		}
	}
	return nil
}

// lossGradOp computes g·∂loss/∂input for every input and packs them, in
// input order, into one vector.
type lossGradOp struct {
	*fused
	gradDims int // dims of the incoming gradient node (0: scalar)
}

func (op lossGradOp) Arity() int { return len(op.shapes) + 1 }

func (op lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(op.shapes)+2)
	for _, s := range op.shapes {
		ts = append(ts, typeOf(s.Dims(), a))
	}
	ts = append(ts, typeOf(op.gradDims, a), typeOf(1, a))
	return hm.NewFnType(ts...)
}

func (op lossGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.total}, nil
}

func (op lossGradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vals...)
}

// UsePreallocDo computes the packed gradient into the op's own buffer,
// which the unpack nodes hand back once read; prealloc is not used.
func (op lossGradOp) UsePreallocDo(_ gorgonia.Value, vals ...gorgonia.Value) (gorgonia.Value, error) {
	res := op.packed.acquire(op.dt, op.total, len(op.shapes))
	if err := op.compute(res, vals); err != nil {
		op.packed.release(res)
		return nil, err
	}
	return res, nil
}

// compute writes the packed gradient into res.
func (op lossGradOp) compute(res *tensor.Dense, vals []gorgonia.Value) error {
	n := len(op.shapes)
	if len(vals) != n+1 {
		return fmt.Errorf("loss: %v gradient: %d inputs, want %d", op.k, len(vals), n+1)
	}
	g, err := scalarOf(vals[n])
	if err != nil {
		return fmt.Errorf("loss: %v gradient: %w", op.k, err)
	}
	s := op.pool.Get().(*scratch)
	defer op.pool.Put(s)
	in, err := op.inputs(vals[:n], s, s.inp[:0])
	if err != nil {
		return err
	}
	out := s.outp[:0]
	if op.dt == tensor.Float64 {
		p := res.Float64s()
		off := 0
		for _, sz := range op.sizes {
			out = append(out, p[off:off+sz])
			off += sz
		}
		op.grad(in, g, out, s.work)
		return nil
	}
	op.grad(in, g, s.out, s.work)
	p := res.Float32s()
	off := 0
	for i, sz := range op.sizes {
		for j, x := range s.out[i] {
			p[off+j] = float32(x)
		}
		off += sz
	}
	return nil
}

// grad writes g·∂loss/∂in into out: the kept gradient of the forward
// pass when there is one for these inputs, else the kernel's.
func (op lossGradOp) grad(in [][]float64, g float64, out [][]float64, work []float64) {
	if op.kept == nil || !op.kept.take(in, g, out) {
		op.k.grad(in, g, out, work)
	}
}

func (op lossGradOp) ReturnsPtr() bool      { return false }
func (op lossGradOp) CallsExtern() bool     { return false }
func (op lossGradOp) OverwritesInput() int  { return -1 }
func (op lossGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op) }
func (op lossGradOp) Hashcode() uint32      { return hashOf(op) }
func (op lossGradOp) String() string {
	return fmt.Sprintf("∇%v%v/%d", op.k, op.shapes, op.gradDims)
}

// unpackOp copies one input's block out of a packed gradient.
type unpackOp struct {
	dt     tensor.Dtype
	offset int
	shape  tensor.Shape
	name   string
	buf    *packedBuf    // told when the block has been read
	out    *tensor.Dense // the block, reused by every run without a prealloc
}

func (op unpackOp) Arity() int { return 1 }

func (op unpackOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(typeOf(1, a), typeOf(op.shape.Dims(), a))
}

func (op unpackOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op unpackOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vals...)
}

// UsePreallocDo copies the block into prealloc when it fits.
func (op unpackOp) UsePreallocDo(prealloc gorgonia.Value, vals ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("loss: %s unpack: %d inputs, want 1", op.name, len(vals))
	}
	if prealloc == nil && op.out != nil {
		prealloc = op.out
	}
	res := dense(prealloc, op.dt, op.shape)
	n := op.shape.TotalSize()
	defer op.buf.release(vals[0])
	switch op.dt {
	case tensor.Float64:
		p, err := float64s(vals[0])
		if err != nil {
			return nil, fmt.Errorf("loss: %s unpack: %w", op.name, err)
		}
		copy(res.Float64s(), p[op.offset:op.offset+n])
	default:
		p, err := float32s(vals[0])
		if err != nil {
			return nil, fmt.Errorf("loss: %s unpack: %w", op.name, err)
		}
		copy(res.Float32s(), p[op.offset:op.offset+n])
	}
	return res, nil
}

func (op unpackOp) ReturnsPtr() bool      { return false }
func (op unpackOp) CallsExtern() bool     { return false }
func (op unpackOp) OverwritesInput() int  { return -1 }
func (op unpackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op unpackOp) Hashcode() uint32      { return hashOf(op) }
func (op unpackOp) String() string {
	return fmt.Sprintf("unpack{%s %d %v}", op.name, op.offset, op.shape)
}

var (
	_ gorgonia.SDOp            = lossOp{}
	_ gorgonia.ADOp            = lossOp{}
	_ gorgonia.UsePreallocDoer = lossOp{}
	_ gorgonia.UsePreallocDoer = lossGradOp{}
	_ gorgonia.UsePreallocDoer = unpackOp{}
)

// Settle returns the value of a loss computed beside the graph (see
// SIGRegBeside): a scalar node that waits for the loss when the machine
// reaches it. Build it where the loss is used, after the ops that should
// run meanwhile; the gradient passes through it unchanged.
func Settle(n *gorgonia.Node) (*gorgonia.Node, error) {
	op, ok := n.Op().(lossOp)
	if !ok || op.kept == nil || !op.kept.beside {
		return nil, fmt.Errorf("loss: Settle of %v, which is not computed beside the graph: %w", n, ErrOption)
	}
	return gorgonia.ApplyOp(settleOp{op.fused}, n)
}

// settleOp is Settle's op: the identity on the loss's value, which it
// waits for.
type settleOp struct{ *fused }

func (op settleOp) Arity() int { return 1 }
func (op settleOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op settleOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op settleOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	l, err := op.kept.settled()
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		return gorgonia.NewF32(float32(l)), nil
	}
	return gorgonia.NewF64(l), nil
}
func (op settleOp) DiffWRT(int) []bool { return []bool{true} }
func (op settleOp) SymDiff(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return gorgonia.Nodes{grad}, nil
}
func (op settleOp) ReturnsPtr() bool      { return false }
func (op settleOp) CallsExtern() bool     { return false }
func (op settleOp) OverwritesInput() int  { return -1 }
func (op settleOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op settleOp) Hashcode() uint32      { return hashOf(op) }
func (op settleOp) String() string        { return fmt.Sprintf("Settle(%v)", op.k) }
