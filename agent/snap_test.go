package agent

import (
	"math/rand/v2"
	"testing"
)

// offBook is a planner model whose next latent is z + a·(0.3, −0.2): off
// every latent of a book on the integer grid.
type offBook struct{}

func (offBook) LatentDim() int { return 2 }
func (offBook) ActionDim() int { return 1 }
func (offBook) Step(next, reward, cont, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	for r := range rows {
		next[2*r] = z[2*r] + 0.3*a[r]
		next[2*r+1] = z[2*r+1] - 0.2*a[r]
		reward[r], cont[r] = 1, 1
	}
}
func (offBook) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

func TestSnapModelStepsOntoTheNearestRealLatent(t *testing.T) {
	book := []float32{0, 0, 1, 0, 0, 1, 1, 1}
	m := newSnapModel(offBook{}, book)
	z := []float32{0, 0, 0, 0, 1, 1}
	a := []float32{1, 3, 2}
	next := make([]float32, 6)
	rew, cont := make([]float32, 3), make([]float32, 3)
	m.Step(next, rew, cont, z, a, 3, true, nil)
	// (0.3, −0.2) → (0, 0); (0.9, −0.6) → (1, 0); (1.6, 0.6) → (1, 1).
	want := []float32{0, 0, 1, 0, 1, 1}
	for i := range want {
		if next[i] != want[i] {
			t.Fatalf("snapped latents %v, want %v", next, want)
		}
	}
	if rew[0] != 1 || cont[2] != 1 {
		t.Errorf("reward %v and continuation %v, want the model's own", rew, cont)
	}
	if m.HasActionValue() {
		t.Error("a model without an action value gained one")
	}
	if allocs := testing.AllocsPerRun(10, func() { m.Step(next, rew, cont, z, a, 3, true, nil) }); allocs != 0 {
		t.Errorf("%v allocations per step, want 0", allocs)
	}
}
