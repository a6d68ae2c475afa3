package worldmodel

import "fmt"

// average is the Polyak average of the online encoder, predictor and value
// weights (Config.AverageTau), which Averaged acts with.
type average struct {
	enc  encoder
	pred predictor
	val  valueNet
	// pairs holds each averaged param next to the online param it
	// follows, [average, online].
	pairs [][2]*param
	view  *Model // the view of Averaged, kept for its buffers
}

// averaged reports whether the config keeps a Polyak average.
func (c Config) averaged() bool { return c.AverageTau > 0 }

// pair matches the averaged params avg with the online params they follow,
// by name: "average." and the online name.
func (a *average) pair(online, avg []*param) {
	byName := make(map[string]*param, len(online))
	for _, p := range online {
		byName[p.name] = p
	}
	for _, p := range avg {
		src := byName[p.name[len("average."):]]
		if src == nil || !src.trained || src.decoder || src.rows != p.rows || src.cols != p.cols {
			panic(fmt.Sprintf("worldmodel: averaged param %s follows no online param", p.name))
		}
		a.pairs = append(a.pairs, [2]*param{p, src})
	}
}

// reset sets the average to the online weights.
func (a *average) reset() {
	for _, pr := range a.pairs {
		copy(pr[0].data, pr[1].data)
	}
}

// update moves the average towards the online weights after Adam step
// steps: θ̄ ← τθ̄ + (1−τ)θ with τ = min(tau, (1+steps)/(10+steps)), so that
// early on, when the weights move fast, the average covers about a tenth
// of the steps taken rather than lagging by 1/(1−tau) steps.
func (a *average) update(tau float64, steps int64) {
	t := float32(min(tau, float64(1+steps)/float64(10+steps)))
	for _, pr := range a.pairs {
		ema(pr[0].data, pr[1].data, t)
	}
}

// Averaged returns a view of the model that encodes, predicts and values
// with the Polyak average of the weights (Config.AverageTau), for acting
// greedily; without an average it returns m. The view shares m's config,
// input statistics and cores and has buffers of its own. It reads the
// input statistics of the moment it is made, so take it again after m
// trains; it must not train, and it is m's: the two run on one goroutine.
func (m *Model) Averaged() *Model {
	if m.avg == nil {
		return m
	}
	v := m.viewInto(&m.avg.view)
	v.enc, v.pred, v.val = m.avg.enc, m.avg.pred, m.avg.val
	v.averagedView = true
	return v
}
