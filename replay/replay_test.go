package replay

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// step is one observation of the reference history kept by the tests.
type step struct {
	ep, t       int
	term, trunc bool // flags of the transition leaving this step
	next        bool // a transition leaves this step
}

// recorder drives a Buffer and keeps the whole history it was given, so
// that tests can compute by brute force what the buffer must hold. Vector
// observations are (episode, step); actions (episode, step+0.5); rewards
// episode·1000 + step. All are exact in float32.
type recorder struct {
	b    *Buffer
	hist []step
	ep   int
	obs  []float32
	act  []float32
}

func newRecorder(t testing.TB, capacity int) *recorder {
	b, err := New(Spec{ObsDim: 2, ActionDim: 2}, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return &recorder{b: b, obs: make([]float32, 2), act: make([]float32, 2)}
}

func (r *recorder) start() {
	r.ep++
	r.obs[0], r.obs[1] = float32(r.ep), 0
	r.b.StartEpisode(Obs{Vector: r.obs})
	r.hist = append(r.hist, step{ep: r.ep})
}

func (r *recorder) append(term, trunc bool) {
	last := &r.hist[len(r.hist)-1]
	last.term, last.trunc, last.next = term, trunc, true
	t := last.t + 1
	r.act[0], r.act[1] = float32(r.ep), float32(last.t)+0.5
	r.obs[0], r.obs[1] = float32(r.ep), float32(t)
	r.b.Append(r.act, float32(r.ep*1000+last.t), term, trunc, Obs{Vector: r.obs})
	r.hist = append(r.hist, step{ep: r.ep, t: t})
}

// held is the index in hist of the oldest step still in the buffer.
func (r *recorder) held() int { return max(0, len(r.hist)-r.b.Cap()) }

// starts lists the history indices where a (k, f) sequence may start.
func (r *recorder) starts(k, f int) []int {
	var out []int
	for g := r.held(); g < len(r.hist); g++ {
		ok := g+k < len(r.hist)
		for j := 0; ok && j <= k; j++ {
			ok = r.hist[g+j].ep == r.hist[g].ep
		}
		pre := min(r.hist[g].t, f-1)
		if ok && g-pre >= r.held() {
			out = append(out, g)
		}
	}
	return out
}

// counts returns what Len, Episodes and Steps must be.
func (r *recorder) counts() (transitions, episodes, steps int) {
	for g := r.held(); g < len(r.hist); g++ {
		if r.hist[g].next && g+1 < len(r.hist) {
			transitions++
		}
		if g == r.held() || r.hist[g].ep != r.hist[g-1].ep {
			episodes++
		}
		steps++
	}
	return
}

// check verifies every sequence in d against the history: consecutive
// steps of one episode, held, with the right actions, rewards, flags and
// stacked predecessors. It returns the (episode, step) of each start.
func (r *recorder) check(t *testing.T, d *Batch) [][2]int {
	t.Helper()
	index := make(map[[2]int]int)
	for g := r.held(); g < len(r.hist); g++ {
		index[[2]int{r.hist[g].ep, r.hist[g].t}] = g
	}
	out := make([][2]int, d.B)
	for i := range d.B {
		obs := func(j, f int) [2]int {
			o := ((j*d.B+i)*d.F + f) * 2
			return [2]int{int(d.Vectors[o]), int(d.Vectors[o+1])}
		}
		first := obs(0, d.F-1)
		out[i] = first
		g0, ok := index[first]
		if !ok {
			t.Fatalf("sequence %d starts at episode %d step %d, which is not held", i, first[0], first[1])
		}
		for j := 0; j <= d.K; j++ {
			g := g0 + j
			if g >= len(r.hist) || r.hist[g].ep != first[0] {
				t.Fatalf("sequence %d (episode %d step %d) runs past its episode at time %d", i, first[0], first[1], j)
			}
			for f := range d.F {
				want := [2]int{first[0], max(0, first[1]+j-(d.F-1-f))}
				if got := obs(j, f); got != want {
					t.Fatalf("sequence %d time %d frame %d: observation %v, want %v", i, j, f, got, want)
				}
			}
			if g-min(r.hist[g0].t, d.F-1) < r.held() {
				t.Fatalf("sequence %d stacks an overwritten step", i)
			}
			if j == d.K {
				break
			}
			h, k := r.hist[g], j*d.B+i
			a := d.Actions[k*2 : k*2+2]
			if int(a[0]) != h.ep || float64(a[1]) != float64(h.t)+0.5 {
				t.Fatalf("sequence %d time %d: action %v, want (%d, %d.5)", i, j, a, h.ep, h.t)
			}
			if d.Rewards[k] != float32(h.ep*1000+h.t) {
				t.Fatalf("sequence %d time %d: reward %v, want %d", i, j, d.Rewards[k], h.ep*1000+h.t)
			}
			if (d.Terminated[k] == 1) != h.term || (d.Truncated[k] == 1) != h.trunc {
				t.Fatalf("sequence %d time %d: flags %v/%v, want %v/%v", i, j, d.Terminated[k], d.Truncated[k], h.term, h.trunc)
			}
			if (h.term || h.trunc) && j != d.K-1 {
				t.Fatalf("sequence %d continues after an episode end at time %d", i, j)
			}
		}
	}
	return out
}

func TestSampleNeverCrossesBoundaries(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		k, f     int
		maxLen   int // episode lengths (transitions) are uniform on 0…maxLen
		episodes int
	}{
		{"short episodes k=3", 64, 3, 1, 6, 80},
		{"length 0 and 1 episodes", 32, 1, 2, 1, 100},
		{"stacking wraps", 50, 2, 4, 12, 60},
		{"episodes longer than capacity", 16, 3, 3, 40, 12},
		{"k=0 single observations", 20, 0, 3, 5, 40},
		{"tiny ring", 2, 1, 1, 3, 30},
		{"sequence longer than ring", 4, 4, 1, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.capacity)))
			r := newRecorder(t, tt.capacity)
			d := NewBatch(r.b.Spec(), 8, tt.k, tt.f)
			other := NewBatch(r.b.Spec(), 4, tt.k+1, 1) // a second index kept up to date alongside
			for range tt.episodes {
				r.start()
				n := rng.IntN(tt.maxLen + 1)
				end := rng.IntN(3) // 0 terminated, 1 truncated, 2 left open
				for s := range n {
					last := s == n-1
					r.append(last && end == 0, last && end == 1)
					want := len(r.starts(tt.k, tt.f))
					if got := r.b.Sequences(tt.k, tt.f); got != want {
						t.Fatalf("after %d steps: Sequences = %d, want %d", len(r.hist), got, want)
					}
					err := r.b.Sample(rng, d)
					if want == 0 {
						if !errors.Is(err, ErrEmpty) {
							t.Fatalf("Sample with nothing to sample: err = %v, want ErrEmpty", err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					r.check(t, d)
					if r.b.Sample(rng, other) == nil {
						r.check(t, other)
					}
				}
				tr, ep, st := r.counts()
				if r.b.Len() != tr || r.b.Episodes() != ep || r.b.Steps() != st {
					t.Fatalf("Len, Episodes, Steps = %d, %d, %d; want %d, %d, %d", r.b.Len(), r.b.Episodes(), r.b.Steps(), tr, ep, st)
				}
			}
			if got, want := r.b.Sequences(tt.k+1, 1), len(r.starts(tt.k+1, 1)); got != want {
				t.Errorf("second index: Sequences = %d, want %d", got, want)
			}
		})
	}
}

func TestTerminatedAndTruncatedApart(t *testing.T) {
	r := newRecorder(t, 100)
	r.start()
	r.append(false, false)
	r.append(true, false) // episode 1: terminated
	r.start()
	r.append(false, false)
	r.append(false, true) // episode 2: truncated
	d := NewBatch(r.b.Spec(), 1, 2, 1)
	if got := r.b.Sequences(2, 1); got != 2 {
		t.Fatalf("Sequences(2, 1) = %d, want 2", got)
	}
	seen := map[int]bool{}
	rng := rand.New(rand.NewPCG(2, 2))
	for range 50 {
		if err := r.b.Sample(rng, d); err != nil {
			t.Fatal(err)
		}
		start := r.check(t, d)[0]
		seen[start[0]] = true
		wantTerm, wantTrunc := float32(0), float32(0)
		if start[0] == 1 {
			wantTerm = 1
		} else {
			wantTrunc = 1
		}
		if d.Terminated[1] != wantTerm || d.Truncated[1] != wantTrunc || d.Terminated[0] != 0 || d.Truncated[0] != 0 {
			t.Fatalf("episode %d: terminated %v, truncated %v", start[0], d.Terminated, d.Truncated)
		}
	}
	if !seen[1] || !seen[2] {
		t.Errorf("sampled episodes %v, want both", seen)
	}
}

func TestStackingAtEpisodeStart(t *testing.T) {
	r := newRecorder(t, 100)
	r.start()
	for range 4 {
		r.append(false, false)
	}
	// k = 1, F = 3: starts at steps 0…3. The one at step 0 must read
	// (0, 0, 0) then (0, 0, 1).
	d := NewBatch(r.b.Spec(), 1, 1, 3)
	rng := rand.New(rand.NewPCG(3, 3))
	for range 100 {
		if err := r.b.Sample(rng, d); err != nil {
			t.Fatal(err)
		}
		if r.check(t, d)[0][1] != 0 {
			continue
		}
		var steps []int
		for i := 0; i < len(d.Vectors); i += 2 {
			steps = append(steps, int(d.Vectors[i+1]))
		}
		if fmt.Sprint(steps) != "[0 0 0 0 0 1]" {
			t.Fatalf("stacked steps from the episode start: %v, want [0 0 0 0 0 1]", steps)
		}
		return
	}
	t.Fatal("no sequence from the episode start in 100 draws")
}

func TestSampleUniform(t *testing.T) {
	// Episodes of 0…7 transitions in a ring of 60 that has wrapped.
	r := newRecorder(t, 60)
	rng := rand.New(rand.NewPCG(4, 4))
	for range 40 {
		r.start()
		n := rng.IntN(8)
		for s := range n {
			r.append(s == n-1, false)
		}
	}
	const k, f, draws = 2, 2, 64
	starts := r.starts(k, f)
	if len(starts) < 10 {
		t.Fatalf("only %d starts; the test wants more", len(starts))
	}
	d := NewBatch(r.b.Spec(), draws, k, f)
	count := map[[2]int]int{}
	const batches = 1000
	for range batches {
		if err := r.b.Sample(rng, d); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.check(t, d) {
			count[s]++
		}
	}
	// Each start's count is Binomial(M, 1/n): allow 5 standard deviations.
	m, p := float64(batches*draws), 1/float64(len(starts))
	tol := 5 * math.Sqrt(m*p*(1-p))
	for _, g := range starts {
		s := [2]int{r.hist[g].ep, r.hist[g].t}
		if c := float64(count[s]); math.Abs(c-m*p) > tol {
			t.Errorf("start %v drawn %v times, want %.0f ± %.0f", s, c, m*p, tol)
		}
	}
	if len(count) != len(starts) {
		t.Errorf("%d distinct starts drawn, want %d", len(count), len(starts))
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"frames", Spec{FrameShape: [3]int{32, 32, 3}, ActionDim: 1}, true},
		{"vector", Spec{ObsDim: 4, ActionDim: 2}, true},
		{"both", Spec{FrameShape: [3]int{32, 32, 3}, ObsDim: 4, ActionDim: 1}, false},
		{"neither", Spec{ActionDim: 1}, false},
		{"no action", Spec{ObsDim: 4}, false},
		{"negative frame", Spec{FrameShape: [3]int{-32, -32, 3}, ActionDim: 1}, false},
		{"zero channel", Spec{FrameShape: [3]int{32, 32, 0}, ActionDim: 1}, false},
		{"huge frame", Spec{FrameShape: [3]int{1 << 20, 1 << 20, 3}, ActionDim: 1}, false},
		{"negative vector", Spec{ObsDim: -1, ActionDim: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (!errors.Is(err, ErrSpec) || strings.Count(err.Error(), "\n") != 0) {
				t.Errorf("error %q: want one line wrapping ErrSpec", err)
			}
		})
	}
	if _, err := New(Spec{ObsDim: 1, ActionDim: 1}, 1); err == nil {
		t.Error("New with capacity 1: no error")
	}
}

func TestPanics(t *testing.T) {
	spec := Spec{ObsDim: 2, ActionDim: 1}
	vec := Obs{Vector: []float32{0, 0}}
	tests := []struct {
		name string
		f    func(b *Buffer)
	}{
		{"append before start", func(b *Buffer) { b.Append([]float32{0}, 0, false, false, vec) }},
		{"append after terminated", func(b *Buffer) {
			b.StartEpisode(vec)
			b.Append([]float32{0}, 0, true, false, vec)
			b.Append([]float32{0}, 0, false, false, vec)
		}},
		{"append after truncated", func(b *Buffer) {
			b.StartEpisode(vec)
			b.Append([]float32{0}, 0, false, true, vec)
			b.Append([]float32{0}, 0, false, false, vec)
		}},
		{"short observation", func(b *Buffer) { b.StartEpisode(Obs{Vector: []float32{0}}) }},
		{"frame for a vector spec", func(b *Buffer) { b.StartEpisode(Obs{Frame: []uint8{0, 0}}) }},
		{"long action", func(b *Buffer) { b.StartEpisode(vec); b.Append([]float32{0, 0}, 0, false, false, vec) }},
		{"batch of another spec", func(b *Buffer) {
			b.StartEpisode(vec)
			b.Sample(rand.New(rand.NewPCG(1, 1)), NewBatch(Spec{ObsDim: 3, ActionDim: 1}, 1, 0, 1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(spec, 8)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "replay: ") {
					t.Errorf("panic %q, want one prefixed with the package name", msg)
				}
			}()
			tt.f(b)
		})
	}
}

func TestFramesAndPackRGB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for y := range 3 {
		for x := range 4 {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(10*x + y), 255})
		}
	}
	// A sub-image checks that the origin and stride are honoured.
	sub := img.SubImage(image.Rect(1, 1, 4, 3)).(*image.RGBA)
	px := PackRGB(nil, sub)
	if len(px) != 3*2*3 {
		t.Fatalf("len = %d, want 18", len(px))
	}
	for y := range 2 {
		for x := range 3 {
			got := px[(y*3+x)*3 : (y*3+x)*3+3]
			want := []uint8{uint8(x + 1), uint8(y + 1), uint8(10*(x+1) + y + 1)}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, got, want)
			}
		}
	}
	if again := PackRGB(px, sub); &again[0] != &px[0] {
		t.Error("PackRGB did not reuse dst")
	}

	spec := Spec{FrameShape: [3]int{2, 3, 3}, ActionDim: 1}
	b, err := New(spec, 10)
	if err != nil {
		t.Fatal(err)
	}
	b.StartEpisode(Obs{Frame: px})
	px2 := append([]uint8(nil), px...)
	px2[0] = 200
	b.Append([]float32{3}, 1.5, false, false, Obs{Frame: px2})
	d := NewBatch(spec, 1, 1, 2)
	if err := b.Sample(rand.New(rand.NewPCG(5, 5)), d); err != nil {
		t.Fatal(err)
	}
	// Layout (K+1)×B×F×18: time 0 is (o0, o0), time 1 is (o0, o1).
	for i, want := range [][]uint8{px, px, px, px2} {
		if got := d.Frames[i*18 : (i+1)*18]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("frame slot %d = %v, want %v", i, got, want)
		}
	}
	if d.Actions[0] != 3 || d.Rewards[0] != 1.5 || d.Vectors != nil {
		t.Errorf("action %v reward %v vectors %v", d.Actions, d.Rewards, d.Vectors)
	}
}

func TestZeroAllocs(t *testing.T) {
	spec := Spec{FrameShape: [3]int{8, 8, 3}, ActionDim: 2}
	b, err := New(spec, 64)
	if err != nil {
		t.Fatal(err)
	}
	frame := Obs{Frame: make([]uint8, spec.ObsLen())}
	act := []float32{0.5, -0.5}
	n := 0
	add := func() {
		if n%10 == 0 {
			b.StartEpisode(frame)
		} else {
			b.Append(act, 1, false, n%10 == 9, frame)
		}
		n++
	}
	d := NewBatch(spec, 16, 3, 3)
	rng := rand.New(rand.NewPCG(6, 6))
	for range 200 { // fill the ring and build the index
		add()
	}
	if err := b.Sample(rng, d); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, add); a != 0 {
		t.Errorf("StartEpisode/Append: %v allocs per step, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { b.Sample(rng, d) }); a != 0 {
		t.Errorf("Sample: %v allocs per batch, want 0", a)
	}
}

func ExampleBuffer() {
	b, err := New(Spec{ObsDim: 1, ActionDim: 1}, 100)
	if err != nil {
		panic(err)
	}
	obs := func(v float32) Obs { return Obs{Vector: []float32{v}} }
	b.StartEpisode(obs(0))
	b.Append([]float32{1}, 0.5, false, false, obs(1))
	b.Append([]float32{0}, 1.0, true, false, obs(2)) // reached a terminal state
	b.StartEpisode(obs(10))
	b.Append([]float32{1}, 0.0, false, true, obs(11)) // time limit

	fmt.Println("transitions:", b.Len(), "episodes:", b.Episodes(), "steps:", b.Steps())
	fmt.Println("sequences of 2 transitions:", b.Sequences(2, 1))

	batch := NewBatch(b.Spec(), 1, 2, 1)
	if err := b.Sample(rand.New(rand.NewPCG(1, 2)), batch); err != nil {
		panic(err)
	}
	fmt.Println("observations:", batch.Vectors, "rewards:", batch.Rewards, "terminated:", batch.Terminated)
	// Output:
	// transitions: 3 episodes: 2 steps: 5
	// sequences of 2 transitions: 1
	// observations: [0 1 2] rewards: [0.5 1] terminated: [0 1]
}

func BenchmarkAdd(b *testing.B) {
	for _, f := range []int{1, 3} {
		b.Run(fmt.Sprintf("frames32x32x3/F=%d", f), func(b *testing.B) {
			spec := Spec{FrameShape: [3]int{32, 32, 3}, ActionDim: 1}
			buf, err := New(spec, 4096)
			if err != nil {
				b.Fatal(err)
			}
			// An index for (k, F) is maintained by every write.
			buf.Sequences(3, f)
			frame := Obs{Frame: make([]uint8, spec.ObsLen())}
			act := []float32{1}
			n := 0
			add := func() {
				if n%50 == 0 {
					buf.StartEpisode(frame)
				} else {
					buf.Append(act, 1, n%50 == 49, false, frame)
				}
				n++
			}
			for range 2 * buf.Cap() {
				add()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				add()
			}
		})
	}
}

func BenchmarkSample(b *testing.B) {
	for _, f := range []int{1, 3} {
		b.Run(fmt.Sprintf("B=256/k=3/frames32x32x3/F=%d", f), func(b *testing.B) {
			spec := Spec{FrameShape: [3]int{32, 32, 3}, ActionDim: 1}
			buf, err := New(spec, 4096)
			if err != nil {
				b.Fatal(err)
			}
			frame := Obs{Frame: make([]uint8, spec.ObsLen())}
			act := []float32{1}
			for n := range 2 * buf.Cap() {
				if n%50 == 0 {
					buf.StartEpisode(frame)
				} else {
					buf.Append(act, 1, n%50 == 49, false, frame)
				}
			}
			d := NewBatch(spec, 256, 3, f)
			rng := rand.New(rand.NewPCG(1, 1))
			if err := buf.Sample(rng, d); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				buf.Sample(rng, d)
			}
		})
	}
}
