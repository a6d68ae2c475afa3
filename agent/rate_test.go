package agent

import (
	"math"
	"testing"
	"time"
)

func TestStepRateFollowsThePhase(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := newStepRate(t0, 0)
	steps, now := 0, t0
	// 20 s of a fast seed phase at 2000 steps/s, then a minute at 50,
	// with progress ticks ten times a second.
	tick := func(seconds, rate int) float64 {
		got := 0.0
		for i := 0; i < 10*seconds; i++ {
			now, steps = now.Add(100*time.Millisecond), steps+rate/10
			got = s.update(now, steps)
		}
		return got
	}
	if got := tick(20, 2000); math.Abs(got-2000) > 1 {
		t.Fatalf("rate %g in the fast phase, want 2000", got)
	}
	if got := tick(60, 50); math.Abs(got-50) > 2 {
		t.Errorf("rate %g a minute into the slow phase, want 50; the overall mean is %g",
			got, float64(steps)/now.Sub(t0).Seconds())
	}
}
