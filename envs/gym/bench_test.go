package gym

import (
	"image"
	"testing"

	"github.com/dreamrl/dream/envs"
)

// BenchmarkRoundTrip times Env.Step through the bridge with the stand-in
// PointMass (one f64 action, two f64 observations): state, and 32×32
// pixels (the stand-in's 24×40 render, sent and resized). It reports the
// time per step, the environment's own share (env-ns/op, measured in the
// child) and the bridge's overhead, the rest (overhead-ns/op).
func BenchmarkRoundTrip(b *testing.B) {
	standIn(b, "")
	for _, mode := range []envs.ObsMode{envs.ObsState, envs.ObsPixels} {
		b.Run(string(mode), func(b *testing.B) {
			e := newEnv(b, "dreamtest/PointMass-v0", mode, `{"max_episode_steps": 1000000}`)
			e.Reset(1)
			dst := image.NewRGBA(image.Rect(0, 0, 32, 32))
			action := []float64{0.1}
			var envNs float64
			b.ReportAllocs()
			for b.Loop() {
				if _, term, trunc := e.Step(action); term || trunc {
					e.Reset(2)
				}
				if mode == envs.ObsPixels {
					e.Render(dst)
				}
				envNs += float64(e.EnvTime())
			}
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(envNs/float64(b.N), "env-ns/op")
			b.ReportMetric(perOp-envNs/float64(b.N), "overhead-ns/op")
		})
	}
}
