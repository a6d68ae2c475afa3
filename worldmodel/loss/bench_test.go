package loss

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// benchGraph times one forward and backward pass of build on a tape
// machine that is reused across iterations, as in training.
func benchGraph(b *testing.B, dt tensor.Dtype, args []*arg, build builder) {
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(args))
	var wrt []*gorgonia.Node
	for i, a := range args {
		nodes[i] = a.node(g, dt)
		if !a.constant {
			wrt = append(wrt, nodes[i])
		}
	}
	cost, err := build(nodes)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gorgonia.Grad(cost, wrt...); err != nil {
		b.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
		m.Reset()
	}
}

func BenchmarkGaussianNLL(b *testing.B) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, d := range []int{32, 64} {
			for _, r := range []int{0, 4} {
				c := nllCase{b: 256, d: d, r: r}
				b.Run(fmt.Sprintf("%v/B256/d%d/r%d", dt, d, r), func(b *testing.B) {
					benchGraph(b, dt, nllArgs(c, 1), c.fused())
				})
			}
		}
	}
}

// BenchmarkGaussianNLLRank shows the O(d·r²) cost of the low-rank factor.
func BenchmarkGaussianNLLRank(b *testing.B) {
	for _, r := range []int{0, 2, 4, 8, 16} {
		c := nllCase{b: 256, d: 32, r: r}
		b.Run(fmt.Sprintf("B256/d32/r%d", r), func(b *testing.B) {
			benchGraph(b, tensor.Float32, nllArgs(c, 1), c.fused())
		})
	}
}

// BenchmarkGaussianNLLReference times the composed-primitive reference, to
// compare with the fused op.
func BenchmarkGaussianNLLReference(b *testing.B) {
	for _, r := range []int{0, 4} {
		c := nllCase{b: 256, d: 32, r: r}
		b.Run(fmt.Sprintf("float64/B256/d32/r%d", r), func(b *testing.B) {
			benchGraph(b, tensor.Float64, nllArgs(c, 1), c.ref())
		})
	}
}

func BenchmarkSIGReg(b *testing.B) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, d := range []int{32, 64} {
			for _, m := range []int{64, 256} {
				c := sigRegCase{n: 256, d: d, m: m, k: DefaultKnots, scale: 1}
				b.Run(fmt.Sprintf("%v/N256/d%d/M%d/K17", dt, d, m), func(b *testing.B) {
					benchGraph(b, dt, c.args(1), c.fused())
				})
			}
		}
	}
}

func BenchmarkSIGRegReference(b *testing.B) {
	c := sigRegCase{n: 256, d: 32, m: 64, k: DefaultKnots, scale: 1}
	b.Run("float64/N256/d32/M64/K17", func(b *testing.B) {
		benchGraph(b, tensor.Float64, c.args(1), c.ref())
	})
}

func BenchmarkVICReg(b *testing.B) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, d := range []int{32, 64} {
			b.Run(fmt.Sprintf("%v/N256/d%d", dt, d), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				benchGraph(b, dt, []*arg{randNormArg(rng, "z", 1, 256, d)}, vicRegCase{}.fused())
			})
		}
	}
}

func BenchmarkVICRegReference(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	b.Run("float64/N256/d32", func(b *testing.B) {
		benchGraph(b, tensor.Float64, []*arg{randNormArg(rng, "z", 1, 256, 32)}, vicRegCase{}.ref())
	})
}

func BenchmarkRowNLL(b *testing.B) {
	for _, r := range []int{0, 4} {
		b.Run(fmt.Sprintf("d32/r%d", r), func(b *testing.B) {
			args := nllArgs(nllCase{b: 1, d: 32, r: r}, 1)
			var u []float64
			if r > 0 {
				u = args[3].data
			}
			b.ReportAllocs()
			for b.Loop() {
				RowNLL(args[0].data, args[1].data, args[2].data, u, r)
			}
		})
	}
}

func BenchmarkMixtureNLL(b *testing.B) {
	for _, m := range []int{2, 4} {
		c := mixtureCase{b: 256, d: 32, m: m}
		b.Run(fmt.Sprintf("float32/B256/d32/M%d", m), func(b *testing.B) {
			benchGraph(b, tensor.Float32, c.args(1), c.fused())
		})
	}
}
