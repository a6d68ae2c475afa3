package agent

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/planner"
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

func TestTrainSnapsToReplayLatents(t *testing.T) {
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 1200)
	cfg.SnapLatents = 24
	cfg.Planner.Method = planner.Rollout
	cfg.Planner.Horizon = 2
	run, err := New(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if run.snapAt != 1 {
		t.Errorf("the planner snaps to the latents of block %d, want 1 (steps 1000–1199)", run.snapAt)
	}
	const n = 256
	book := replayLatents(run.model, run.spec, run.buf, n, rand.New(rand.NewPCG(1, 2)))
	if len(book) != n*run.model.LatentDim() {
		t.Fatalf("%d replay latent values, want %d × %d", len(book), n, run.model.LatentDim())
	}
	// Each is the encoder's latent of a real observation: the model's own
	// encoding of a cell's frame is among them for the start cell, which
	// every episode visits.
	obs := NewObserver(run.spec)
	env, err := run.makeEnv()
	if err != nil {
		t.Fatal(err)
	}
	obs.Reset(env.Reset(0))
	start := obs.Encode(run.model)
	d, found := run.model.LatentDim(), false
	for c := 0; c < n && !found; c++ {
		same := true
		for i := range d {
			if diff := book[c*d+i] - start[i]; diff > 1e-4 || diff < -1e-4 {
				same = false
				break
			}
		}
		found = same
	}
	if !found {
		t.Errorf("the start cell's latent is not among %d replay latents", n)
	}
}
