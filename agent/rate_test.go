package agent

import (
	"math"
	"testing"
	"time"
)

func TestStepRateFollowsThePhase(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := stepRate{t: t0}
	steps := 0
	now := t0
	// 20 s of a fast seed phase at 2000 steps/s, then 5 minutes at 50.
	for i := 0; i < 20; i++ {
		now, steps = now.Add(time.Second), steps+2000
		s.update(now, steps)
	}
	if got := s.avg; math.Abs(got-2000) > 1 {
		t.Fatalf("rate %g in the fast phase, want 2000", got)
	}
	for i := 0; i < 300; i++ {
		now, steps = now.Add(time.Second), steps+50
		s.update(now, steps)
	}
	if got := s.avg; math.Abs(got-50) > 0.05*50 {
		t.Errorf("rate %g five minutes into the slow phase, want 50 ± 5%%; the overall mean is %g",
			got, float64(steps)/now.Sub(t0).Seconds())
	}
}
