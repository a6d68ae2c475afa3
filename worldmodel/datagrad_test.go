package worldmodel

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The fused gradient of a data-input layer equals the mask, product and
// column sum it replaces, with and without the ReLU, for row counts that
// the parts do and do not divide, on one core and split.
func TestDataGradOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		rows, in, out int
		relu          bool
		pool          *pool
	}{
		{rows: 1000, in: 12, out: 5, relu: true, pool: newPool()},
		{rows: 37, in: 3, out: 4, relu: false, pool: nil},
		{rows: 5, in: 6, out: 2, relu: true, pool: nil},
		{rows: 4096, in: 48, out: 16, relu: true, pool: newPool()},
	} {
		fill := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
			return s
		}
		x, y, gr := fill(c.rows*c.in), fill(c.rows*c.out), fill(c.rows*c.out)
		g := G.NewGraph()
		node := func(name string, v []float32, r, k int) *G.Node {
			return G.NewMatrix(g, G.Float32, G.WithShape(r, k), G.WithName(name),
				G.WithValue(tensor.New(tensor.WithBacking(v), tensor.WithShape(r, k))))
		}
		gw, gb := newDataGrad(c.pool, c.rows, c.in, c.out, c.relu, true, node("y", y, c.rows, c.out), node("g", gr, c.rows, c.out), node("x", x, c.rows, c.in))
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		dW, db := gw.Value().Data().([]float32), gb.Value().Data().([]float32)
		wantW := make([]float64, c.in*c.out)
		wantB := make([]float64, c.out)
		for r := 0; r < c.rows; r++ {
			for o := 0; o < c.out; o++ {
				d := float64(gr[r*c.out+o])
				if c.relu && !(y[r*c.out+o] > 0) {
					d = 0
				}
				wantB[o] += d
				for i := 0; i < c.in; i++ {
					wantW[i*c.out+o] += float64(x[r*c.in+i]) * d
				}
			}
		}
		check := func(name string, got []float32, want []float64) {
			for i, w := range want {
				if math.Abs(float64(got[i])-w) > 1e-4*math.Max(1, math.Abs(w)) {
					t.Fatalf("rows %d, relu %v: %s[%d] = %g, want %g", c.rows, c.relu, name, i, got[i], w)
				}
			}
		}
		check("dW", dW, wantW)
		check("db", db, wantB)
		vm.Close()
		if c.pool != nil {
			c.pool.close()
		}
	}
}
