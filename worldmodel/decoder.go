package worldmodel

import "math"

// decoderStep is one training step of the probe decoder, outside the
// gorgonia graph. The decoder reads detached latents, so its loss and the
// world model's share nothing: TrainStep computes the decoder's loss and
// gradient on a second goroutine while the graph runs, and applies both
// groups' Adam steps together, or neither.
//
// With latents z (n×d), targets y (n×D), h = relu(z·W₁ + b₁) and
// o = h·W₂ + b₂ (the decoder of model.go), the loss is the mean squared
// error over all n·D values and its gradient follows by hand:
//
//	L = (1/(nD)) Σ (o − y)²,            δo = 2(o − y)/(nD)
//	∂L/∂W₂ = hᵀ·δo,  ∂L/∂b₂ = Σ_rows δo,  δh = (δo·W₂ᵀ) ⊙ 1[h > 0]
//	∂L/∂W₁ = zᵀ·δh,  ∂L/∂b₁ = Σ_rows δh
type decoderStep struct {
	params    [4]*param // W₁, b₁, W₂, b₂
	z, target []float32 // inputs: n×d latents and n×D targets
	h, o      []float32 // activations
	dh        []float32 // δh
	grads     [4][]float32
	loss      float64
}

// newDecoderStep allocates the buffers of a step on n rows.
func (m *Model) newDecoderStep(n int) *decoderStep {
	l1, out := m.dec.l1, m.dec.out
	s := &decoderStep{
		params: m.decoderParams(),
		z:      make([]float32, n*l1.in),
		target: make([]float32, n*out.out),
		h:      make([]float32, n*l1.out),
		o:      make([]float32, n*out.out),
		dh:     make([]float32, n*l1.out),
	}
	for i, p := range s.params {
		s.grads[i] = make([]float32, len(p.data))
	}
	return s
}

// decoderParams are the decoder's weights in the order of
// decoderStep.grads: W₁, b₁, W₂, b₂.
func (m *Model) decoderParams() [4]*param {
	return [4]*param{m.dec.l1.w, m.dec.l1.b, m.dec.out.w, m.dec.out.b}
}

// run computes the loss into s.loss and the gradient into s.grads. It
// reads the decoder's weights and writes only s, so it may run beside the
// training graph. Its products run on the calling goroutine.
func (s *decoderStep) run(dec decoder) {
	l1, out := dec.l1, dec.out
	n := len(s.z) / l1.in
	affine(s.h, s.z, n, l1)
	relu(s.h)
	affine(s.o, s.h, n, out)
	count := float64(len(s.o))
	sum := 0.0
	for i, v := range s.o {
		e := float64(v) - float64(s.target[i])
		sum += e * e
		s.o[i] = float32(2 * e / count) // δo, over the output
	}
	s.loss = sum / count
	gW1, gb1, gW2, gb2 := s.grads[0], s.grads[1], s.grads[2], s.grads[3]
	gemmT(true, true, false, l1.out, out.out, n, s.h, l1.out, s.o, out.out, 0, gW2, out.out)
	colSum(gb2, s.o, n)
	gemmT(true, false, true, n, l1.out, out.out, s.o, out.out, out.w.data, out.out, 0, s.dh, l1.out)
	for i, v := range s.h {
		if !(v > 0) {
			s.dh[i] = 0
		}
	}
	gemmT(true, true, false, l1.in, l1.out, n, s.z, l1.in, s.dh, l1.out, 0, gW1, l1.out)
	colSum(gb1, s.dh, n)
}

// colSum writes the column sums of x (rows×len(dst)) into dst.
func colSum(dst, x []float32, rows int) {
	clear(dst)
	c := len(dst)
	for r := 0; r < rows; r++ {
		for j, v := range x[r*c : (r+1)*c] {
			dst[j] += v
		}
	}
}

// squares returns the squared norm of the gradient, or the name of a
// parameter whose gradient is not finite.
func (s *decoderStep) squares() (float64, string) {
	total := 0.0
	for i, g := range s.grads {
		sq := 0.0
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
		if math.IsNaN(sq) || math.IsInf(sq, 0) {
			return 0, s.params[i].name
		}
		total += sq
	}
	return total, ""
}
