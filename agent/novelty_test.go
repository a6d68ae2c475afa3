package agent

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/replay"
)

// TestNoveltyCodesCells checks that every free cell of FrozenLake 8x8,
// seen as a 32×32 frame, gets its own 32-bit code, that the same frame
// always gets the same code, and that the bonus falls as 1/√n with the
// visits counted.
func TestNoveltyCodesCells(t *testing.T) {
	env, err := registry.Make("gridworld/frozenlake-8x8", envs.Options{Obs: envs.ObsPixels, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	g := env.Simulator().(*gridworld.Env)
	spec := replay.Spec{FrameShape: [3]int{32, 32, 3}, ActionDim: 4}
	nov := newNovelty(spec, 32, rand.New(rand.NewPCG(1, 2)))
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	var frame []uint8
	g.Reset(1)
	g.Render(img)
	start := slices.Clone(replay.PackRGB(frame, img))
	nov.code(start, nil) // the reference
	codes := map[uint64][2]int{}
	mp := g.Map()
	for r := 0; r < mp.Rows; r++ {
		for c := 0; c < mp.Cols; c++ {
			if g.SetState([]float64{float64(r), float64(c)}) != nil {
				continue
			}
			g.Render(img)
			frame = replay.PackRGB(frame, img)
			code := nov.code(frame, nil)
			if other, dup := codes[code]; dup {
				t.Errorf("cells %v and (%d,%d) share code %x", other, r, c, code)
			}
			codes[code] = [2]int{r, c}
			if again := nov.code(frame, nil); again != code {
				t.Errorf("cell (%d,%d): code %x, then %x", r, c, code, again)
			}
		}
	}
	if len(codes) < 50 {
		t.Fatalf("%d cells coded, want the free cells of the 8x8 map", len(codes))
	}

	// Bonus of a batch whose next observation is the start frame, seen
	// n times.
	b := replay.NewBatch(spec, 1, 1, 1)
	copy(b.Frames[len(start):], start)
	dst := make([]float32, 1)
	for n := 1; n <= 16; n *= 4 {
		for nov.counts[nov.code(start, nil)] < uint32(n) {
			nov.observe(replay.Obs{Frame: start})
		}
		nov.bonus(dst, b, 0.5)
		if want := 0.5 / math.Sqrt(float64(n)); math.Abs(float64(dst[0])-want) > 1e-6 {
			t.Errorf("bonus after %d visits %g, want %g", n, dst[0], want)
		}
	}
}

// TestBonusResume trains with the exploration bonus, interrupts, and
// checks that the visit counts survive the checkpoint.
func TestBonusResume(t *testing.T) {
	dir := t.TempDir()
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 400)
	cfg.ExploreBonus = 0.1
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	trainUntilInterrupted(t, run, 250)
	total := 0
	for _, n := range run.nov.counts {
		total += int(n)
	}
	// Every observation stored was counted: the first of each episode and
	// every step's next one.
	if want := run.EnvSteps() + run.st.Episodes + 1; total != want {
		t.Errorf("%d observations counted, want %d", total, want)
	}
	if len(run.nov.counts) < 3 || len(run.nov.counts) > 16 {
		t.Errorf("%d distinct codes on a 16-cell map", len(run.nov.counts))
	}
	resumed, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.nov.counts) != len(run.nov.counts) {
		t.Fatalf("resumed with %d codes, want %d", len(resumed.nov.counts), len(run.nov.counts))
	}
	for c, n := range run.nov.counts {
		if resumed.nov.counts[c] != n {
			t.Errorf("code %x: %d visits after resume, want %d", c, resumed.nov.counts[c], n)
		}
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
}
