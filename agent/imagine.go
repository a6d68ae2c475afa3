package agent

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/agent/picture"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/physics"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// Limits of the imagined futures an Imaginer draws.
const (
	// MaxImagineSamples is the largest number K of futures per picture.
	MaxImagineSamples = 16
	// MaxImagineHorizon is the largest horizon H of a picture.
	MaxImagineHorizon = 32
)

// Random streams of an Imaginer: the second PCG word, with the episode's
// seed as the first.
const (
	streamImaginePlan = 0x696d67706c616e // "imgplan"
	// streamImagineFuture is "imgfut" shifted left 16 bits; the futures of
	// step t use streamImagineFuture + t.
	streamImagineFuture = 0x696d67667574 << 16
)

// stateTile is the side of the rendering that stands for the current
// state of an environment observed through state vectors.
const stateTile = 64

// Imaginer plays a trained agent on fresh episodes and pictures, at every
// step t, what its world model imagined: the plan the greedy planner made
// (no exploration), K futures drawn from the model along that plan, and
// the real frames that followed.
//
// For step t with latent z_t = f_θ(o_t) and plan a_t … a_{t+H−1}, future
// k is
//
//	ẑ_0 = z_t,   ẑ_{h+1} ~ N(μ(ẑ_h, a_{t+h}), Σ(ẑ_h, a_{t+h}))   (Step, sample)
//
// (the mean μ for the deterministic model, K = 1), each ẑ_{h+1} drawn by
// the probe decoder. The uncertainty of step h is the mean predicted
// standard deviation of the next latent,
//
//	σ̄_h = (1/d) Σ_i √(diag Σ(ẑ_h, a_{t+h}))_i      (Predict)
//
// and the predicted return of the plan is the mean over the K futures of
//
//	Ĝ = Σ_{h<H} γ^h (Π_{j<h} ĉ_j) r̂_h
//
// with r̂_h, ĉ_h the predicted reward and continuation along the future
// and γ the planner's discount; the real return is Σ_h γ^h r_{t+h} over
// the steps actually played.
//
// Under the futures, the picture shows the risk the planner weighed when
// it chose a_t: for each first action (each of a discrete space; the
// elite candidates of a box), the sample of returns its risk measure
// aggregated, as planner.MPC.Outcomes records it (K futures, or their
// K·M atoms with a distributional value), with its 10%, 50% and 90%
// quantiles, its mean and the risk measure's value ρ, the score the
// planner compared:
//
//	ρ_a = Risk(G_a1, …, G_aN),   N = K·M,   each G_ai of mass 1/N
//
// These are the planner's own numbers at step t, not a second draw.
//
// Pictures come complete: Step plays the environment up to H steps ahead
// of the picture it returns, so that the real frames t+1 … t+H (or those
// up to the end of the episode) are known, and the GIF and the viewer
// show prediction and outcome side by side. The real frames follow the
// actions actually taken, planned again at every step, so they may part
// from the plan drawn for step t. When an episode ends and its
// last picture has been returned, the next episode begins with the next
// seed: episode i (from 0) is reset with seed+i. Everything random derives
// from that seed, so the same seed and the same calls give the same
// pictures.
//
// An Imaginer acts and imagines with its Run's model as Evaluate does
// (with the averaged weights where the model keeps them). It is not safe
// for concurrent use, and the Run must not train while it is in use.
type Imaginer struct {
	cfg   Config
	model *worldmodel.Model
	spec  worldmodel.Spec
	env   envs.Env
	space envs.Space
	label func(a []float64) string
	// scale is the per-element size of state observations, used to draw
	// vectors as bars (nil for pixels).
	scale []float64

	seed    uint64
	samples int
	horizon int

	plan    *planner.MPC
	planRNG *rand.Rand
	obs     *Observer

	episode int
	played  []played // the current episode's steps, from 0
	ended   bool     // the episode's last step is in played
	shown   int      // the step of the next picture
	current int      // the step of the last picture, −1 before the first

	// Scratch for imagining K futures.
	z, next, mean, variance, act, dec []float32
	rew, cont                         []float32
}

// played is one step of the real episode.
type played struct {
	frame *image.RGBA // the observation frame, or a rendering for state observations
	vec   []float64   // the state observation (nil for pixels)
	// The decision taken at this step (none at the episode's last
	// state): its latent, the planned sequence (H×width) and the reward
	// it earned.
	decided bool
	z       []float32
	plan    []float64
	reward  float64
	// returns is what the planner saw of each first action.
	returns []picture.ReturnDist
}

// OpenTrained opens a run directory that holds a checkpoint, for
// commands that use a trained agent. A path that does not exist or is
// not a directory is an error wrapping ErrRunDir; a directory without a
// checkpoint one wrapping ErrNoCheckpoint. The options are Open's.
func OpenTrained(dir string, opts ...Option) (*Run, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w %s: no such directory", ErrRunDir, dir)
	case err != nil:
		return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	case !info.IsDir():
		return nil, fmt.Errorf("%w %s: not a directory", ErrRunDir, dir)
	}
	ckpts, err := Checkpoints(dir)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	if len(ckpts) == 0 {
		return nil, fmt.Errorf("%w in %s: train it first (dream train --run-dir %s)", ErrNoCheckpoint, dir, dir)
	}
	return Open(dir, opts...)
}

// NewImaginer returns an Imaginer of the run's agent whose first episode
// is reset with seed. It starts with the run's planner horizon and with as
// many futures as the planner samples (one for the deterministic model).
func NewImaginer(r *Run, seed uint64) (*Imaginer, error) {
	env, err := r.makeEnv()
	if err != nil {
		return nil, fmt.Errorf("imagine: %w", err)
	}
	im := &Imaginer{
		cfg: r.cfg, model: r.model.Averaged(), spec: r.spec, env: env, space: env.ActionSpace(),
		seed: seed, horizon: min(r.cfg.Planner.WithDefaults().Horizon, MaxImagineHorizon),
	}
	im.label = actionLabeller(env.Simulator(), im.space)
	im.samples = im.clampSamples(r.cfg.Planner.WithDefaults().Samples)
	if env.Mode() == envs.ObsState {
		im.scale = vectorScale(env.ObservationSpace())
	}
	if err := im.start(); err != nil {
		return nil, err
	}
	return im, nil
}

// Samples is the number K of futures drawn per picture.
func (im *Imaginer) Samples() int { return im.samples }

// Horizon is the number H of planned and imagined steps.
func (im *Imaginer) Horizon() int { return im.horizon }

// Episode is the index of the current episode (reset with seed+Episode).
func (im *Imaginer) Episode() int { return im.episode }

// Deterministic reports whether the model predicts one future only.
func (im *Imaginer) Deterministic() bool {
	return im.cfg.Model.Dynamics == worldmodel.DynamicsDeterministic
}

func (im *Imaginer) clampSamples(k int) int {
	if im.Deterministic() {
		return 1
	}
	return min(max(k, 1), MaxImagineSamples)
}

// SetSamples sets the number of futures drawn per picture, clamped to 1 …
// MaxImagineSamples (always 1 for the deterministic model), and returns
// the number set. It applies to every picture from now on, including
// Scene's redraw of the current one; the agent's behaviour is unchanged.
func (im *Imaginer) SetSamples(k int) int {
	im.samples = im.clampSamples(k)
	return im.samples
}

// SetHorizon sets the horizon, clamped to 1 … MaxImagineHorizon, and
// returns the horizon set. The agent then plans over that many steps (its
// planner is made again, without warm start). Steps already played keep
// the plans they were made with, so the pictures show the new horizon
// after at most the old one.
func (im *Imaginer) SetHorizon(h int) (int, error) {
	h = min(max(h, 1), MaxImagineHorizon)
	if h == im.horizon {
		return h, nil
	}
	cfg := im.cfg
	cfg.Planner.Horizon = h
	p, err := newPlanner(cfg, im.space, im.model, nil)
	if err != nil {
		return im.horizon, fmt.Errorf("imagine: horizon %d: %w", h, err)
	}
	p.RecordOutcomes(true)
	im.horizon, im.plan = h, p
	return h, nil
}

// Reset starts the current episode again from its seed: the same real
// episode and, with the same settings, the same pictures.
func (im *Imaginer) Reset() {
	if err := im.start(); err != nil {
		// The planner was made before with the same settings.
		panic("agent: imagine: " + err.Error())
	}
}

// start resets the environment and the planner for episode im.episode.
func (im *Imaginer) start() error {
	if im.plan == nil || im.plan.Config().Horizon != im.horizon {
		cfg := im.cfg
		cfg.Planner.Horizon = im.horizon
		p, err := newPlanner(cfg, im.space, im.model, nil)
		if err != nil {
			return fmt.Errorf("imagine: %w", err)
		}
		p.RecordOutcomes(true)
		im.plan = p
	}
	im.plan.Reset()
	seed := im.episodeSeed()
	im.planRNG = rand.New(rand.NewPCG(seed, streamImaginePlan))
	im.obs = NewObserver(im.spec)
	first := im.env.Reset(seed)
	im.obs.Reset(first)
	im.played = append(im.played[:0], im.snapshot(first))
	im.ended = false
	im.shown, im.current = 0, -1
	return nil
}

func (im *Imaginer) episodeSeed() uint64 { return im.seed + uint64(im.episode) }

// snapshot copies what the pictures need of an observation.
func (im *Imaginer) snapshot(o envs.Observation) played {
	if o.Frame != nil {
		f := image.NewRGBA(o.Frame.Rect)
		copy(f.Pix, o.Frame.Pix)
		return played{frame: f}
	}
	f := image.NewRGBA(image.Rect(0, 0, stateTile, stateTile))
	im.env.Render(f)
	return played{frame: f, vec: append([]float64(nil), o.Vector...)}
}

// playOne takes one real step of the episode with the greedy planner.
func (im *Imaginer) playOne() {
	t := len(im.played) - 1
	z := im.obs.Encode(im.model)
	a := im.plan.Plan(z, im.planRNG)
	cur := &im.played[t]
	cur.decided = true
	cur.z = append([]float32(nil), z...)
	cur.plan = append([]float64(nil), im.plan.Sequence()...)
	cur.returns = im.returnDists(im.plan.Outcomes())
	o, r, term, trunc := im.env.Step(a)
	cur.reward = r
	im.obs.Push(o)
	im.played = append(im.played, im.snapshot(o))
	im.ended = term || trunc
}

// Step plays on and returns the picture of the next step, complete with
// the real frames that followed it (see Imaginer). After an episode's
// last picture it begins the next episode.
func (im *Imaginer) Step() picture.Scene {
	if im.ended && im.shown >= len(im.played)-1 {
		im.episode++
		im.Reset()
	}
	for !im.ended && !im.played[im.shown].decided {
		im.playOne()
	}
	need := im.shown + len(im.played[im.shown].plan)/im.width()
	for !im.ended && len(im.played)-1 < need {
		im.playOne()
	}
	im.current = im.shown
	im.shown++
	return im.Scene()
}

// width is the number of values per step of a plan.
func (im *Imaginer) width() int {
	if im.space.Kind == envs.KindDiscrete {
		return 1
	}
	return im.space.Dim()
}

// Scene returns the picture of the step Step last returned, drawn again
// with the current number of futures (the futures of a step are always
// the same for the same K). Before the first Step it is the episode's
// first step with nothing yet played.
func (im *Imaginer) Scene() picture.Scene {
	t := max(im.current, 0)
	rec := im.played[t]
	s := picture.Scene{
		Env: im.cfg.Env, Dynamics: im.cfg.Model.Dynamics, Step: t,
		Current:   rec.frame,
		SigmaName: "mean σ of the next latent",
		Returns:   rec.returns,
		RiskName:  im.plan.Config().Risk.String(),
	}
	if !rec.decided {
		return s
	}
	w := im.width()
	h := len(rec.plan) / w
	gamma := im.plan.Config().Discount
	end := min(t+h, len(im.played)-1)
	disc := 1.0
	for i := t + 1; i <= end; i++ {
		s.Real = append(s.Real, im.picture(im.played[i]))
		s.RealReturn += disc * im.played[i-1].reward
		disc *= gamma
	}
	s.RealEnded = im.ended && end < t+h
	s.RealKnown = len(s.Real) == h || im.ended
	for i := 0; i < h; i++ {
		s.Actions = append(s.Actions, im.label(rec.plan[i*w:(i+1)*w]))
	}
	s.Futures, s.Sigma, s.PredReturn = im.imagine(rec, h, gamma, rand.New(rand.NewPCG(im.episodeSeed(), streamImagineFuture+uint64(t))))
	return s
}

// returnDists summarises what the planner saw of each first action for
// the picture. The quantiles are the planner's own (quantile:q, linear
// between order statistics) over the outcomes, and the risk is the score
// less any bonus: the risk measure's value on the sample.
func (im *Imaginer) returnDists(outs []planner.ActionOutcomes) []picture.ReturnDist {
	dists := make([]picture.ReturnDist, len(outs))
	for i, o := range outs {
		d := picture.ReturnDist{Action: im.label(o.Action), Chosen: o.Chosen}
		if n := len(o.Returns); n > 0 {
			d.Outcomes = slices.Clone(o.Returns)
			q := func(level float64) float64 {
				return planner.Risk{Kind: planner.RiskQuantile, Level: level}.Aggregate(d.Outcomes) // sorted already
			}
			d.P10, d.P50, d.P90 = q(0.1), q(0.5), q(0.9)
			d.Mean = planner.Risk{}.Aggregate(d.Outcomes)
			d.Risk = o.Score - o.Bonus
		}
		dists[i] = d
	}
	return dists
}

// picture is what the real row shows of a step: the observation frame,
// or the state vector as bars.
func (im *Imaginer) picture(p played) *image.RGBA {
	if p.vec == nil {
		return p.frame
	}
	return picture.Vector(p.vec, im.scale, stateTile)
}

// imagine draws K futures of h steps from the step's latent along its
// plan; it returns their decoded frames, the uncertainty of each step and
// the mean predicted return.
func (im *Imaginer) imagine(rec played, h int, gamma float64, rng *rand.Rand) ([][]*image.RGBA, [][]float64, float64) {
	k, d, ad, w := im.samples, im.model.LatentDim(), im.spec.ActionDim, im.width()
	n := im.model.Spec().ObsDim
	grow := func(b *[]float32, size int) []float32 {
		if cap(*b) < size {
			*b = make([]float32, size)
		}
		return (*b)[:size]
	}
	z, next := grow(&im.z, k*d), grow(&im.next, k*d)
	mean, variance := grow(&im.mean, k*d), grow(&im.variance, k*d)
	act, dec := grow(&im.act, k*ad), grow(&im.dec, k*n)
	rew, cont := grow(&im.rew, k), grow(&im.cont, k)
	for i := 0; i < k; i++ {
		copy(z[i*d:(i+1)*d], rec.z)
	}
	futures := make([][]*image.RGBA, k)
	sigma := make([][]float64, k)
	ret := make([]float64, k)
	alive := make([]float64, k) // γ^h Π_{j<h} ĉ_j
	for i := range alive {
		alive[i] = 1
	}
	sample := im.cfg.Model.Dynamics != worldmodel.DynamicsDeterministic
	for step := 0; step < h; step++ {
		for i := 0; i < k; i++ {
			EncodeAction(act[i*ad:(i+1)*ad], rec.plan[step*w:(step+1)*w], im.space)
		}
		im.model.Predict(mean, variance, z, act, k)
		im.model.Step(next, rew, cont, z, act, k, sample, rng)
		im.model.Decode(dec, next, k)
		for i := 0; i < k; i++ {
			s := 0.0
			for _, v := range variance[i*d : (i+1)*d] {
				s += math.Sqrt(math.Max(float64(v), 0))
			}
			sigma[i] = append(sigma[i], s/float64(d))
			ret[i] += alive[i] * float64(rew[i])
			alive[i] *= gamma * float64(cont[i])
			futures[i] = append(futures[i], im.decoded(dec[i*n:(i+1)*n]))
		}
		z, next = next, z
	}
	pred := 0.0
	for _, r := range ret {
		pred += r
	}
	return futures, sigma, pred / float64(k)
}

// decoded turns one row of the probe decoder into a picture.
func (im *Imaginer) decoded(row []float32) *image.RGBA {
	if im.spec.Pixels() {
		return picture.FromHWC(row, im.spec.Frame[0], im.spec.Frame[1])
	}
	v := make([]float64, len(row))
	for i, x := range row {
		v[i] = float64(x)
	}
	return picture.Vector(v, im.scale, stateTile)
}

// vectorScale is the size of each element of a state observation for
// drawing it as bars: the larger bound in magnitude where the space is
// bounded, 1 otherwise.
func vectorScale(space envs.Space) []float64 {
	out := make([]float64, space.Dim())
	for i := range out {
		out[i] = 1
		if i < len(space.Low) {
			if b := math.Max(math.Abs(space.Low[i]), math.Abs(space.High[i])); b > 0 && !math.IsInf(b, 0) {
				out[i] = b
			}
		}
	}
	return out
}

// actionLabeller returns how the pictures label an action of the
// simulator: arrows for gridworld moves and for pushes left and right,
// the torque for the acrobot, signed values for boxes, the index
// otherwise.
func actionLabeller(sim envs.Simulator, space envs.Space) func(a []float64) string {
	names := func(labels ...string) func(a []float64) string {
		return func(a []float64) string {
			if i := int(a[0]); i >= 0 && i < len(labels) {
				return labels[i]
			}
			return strconv.Itoa(int(a[0]))
		}
	}
	switch sim.(type) {
	case *gridworld.Env:
		return names("←", "↓", "→", "↑")
	case *physics.CartPole:
		return names("←", "→")
	case *physics.MountainCar:
		return names("←", "·", "→")
	case *physics.Acrobot:
		return names("-1", "0", "+1")
	}
	if space.Kind == envs.KindDiscrete {
		return names()
	}
	return func(a []float64) string {
		parts := make([]string, len(a))
		for i, v := range a {
			parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
			if v >= 0 {
				parts[i] = "+" + parts[i]
			}
		}
		return strings.Join(parts, ",")
	}
}
