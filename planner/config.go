package planner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrConfig reports an invalid Config, Risk or ActionSpec.
var ErrConfig = errors.New("planner: bad config")

// Method names a planning algorithm.
type Method string

const (
	// CEM is the cross-entropy method: refit the sampling distribution to
	// the elite candidates (Rubinstein 1999; PETS, Chua et al. 2018).
	CEM Method = "cem"
	// MPPI is model-predictive path integral control: refit to all
	// candidates weighted by exp(score/temperature) (Williams et al. 2017;
	// as used by TD-MPC, Hansen et al. 2022).
	MPPI Method = "mppi"
	// Rollout scores every first action of a discrete space by K imagined
	// futures that follow the greedy policy on the model's action value
	// after it (Bertsekas' rollout algorithm, run in the model; see
	// MPC.Plan). It needs a discrete action space and an ActionValuer.
	Rollout Method = "rollout"
)

// Defaults of the zero Config. One decision costs Iterations·Horizon calls
// of Model.Step on Candidates·Samples rows.
const (
	DefaultHorizon     = 5
	DefaultCandidates  = 128
	DefaultSamples     = 4
	DefaultIterations  = 4
	DefaultDiscount    = 0.99
	DefaultTemperature = 0.5
	DefaultInitStd     = 0.5
	DefaultMinStd      = 0.05
	DefaultSmoothing   = 0.05
	DefaultLambda      = 1.0
)

// Config holds the planner's hyperparameters. The zero value of every
// field means its documented default.
type Config struct {
	// Method is CEM (default), MPPI or Rollout.
	Method Method `json:"method" yaml:"method"`
	// Horizon H is the number of imagined steps (default 5).
	Horizon int `json:"horizon" yaml:"horizon"`
	// Candidates N is the number of action sequences per iteration
	// (default 128).
	Candidates int `json:"candidates" yaml:"candidates"`
	// Samples K is the number of futures drawn per candidate (default 4).
	// With K = 1 the model is rolled out on its predicted mean
	// (Model.Step with sample false), as for a deterministic model.
	Samples int `json:"samples" yaml:"samples"`
	// Iterations I is the number of refits per decision (default 4).
	Iterations int `json:"iterations" yaml:"iterations"`
	// Elites is the number of best candidates CEM refits to (default
	// max(1, N/10)).
	Elites int `json:"elites" yaml:"elites"`
	// Discount γ ∈ (0, 1] (default 0.99).
	Discount float64 `json:"discount" yaml:"discount"`
	// Temperature T > 0 of MPPI's weights exp((score − max)/T), in units
	// of score, so it must suit the scale of the rewards (default 0.5).
	Temperature float64 `json:"temperature" yaml:"temperature"`
	// InitStd is the prior standard deviation of continuous actions as a
	// fraction of each dimension's half range (High − Low)/2 (default 0.5:
	// a quarter of the range, the initial spread of mbrl-lib's CEM).
	InitStd float64 `json:"init_std" yaml:"init_std"`
	// MinStd is the smallest standard deviation of continuous actions as a
	// fraction of the half range (default 0.05, TD-MPC2's min_std on
	// [−1, 1]).
	MinStd float64 `json:"min_std" yaml:"min_std"`
	// Momentum m ∈ [0, 1) blends each refit with the previous
	// distribution: θ ← m·θ_old + (1 − m)·θ_fit (default 0: none;
	// mbrl-lib's CEM alpha).
	Momentum float64 `json:"momentum" yaml:"momentum"`
	// Smoothing ε ∈ (0, 1) mixes each refitted categorical with the
	// uniform distribution, p ← (1 − ε)·p_fit + ε/n, so that no discrete
	// action's probability reaches 0 (default 0.05).
	Smoothing float64 `json:"smoothing" yaml:"smoothing"`
	// Risk aggregates the K scores of a candidate (default mean).
	Risk Risk `json:"risk" yaml:"risk"`
	// Lambda λ ∈ (0, 1] weighs a future's h-step returns, each
	// bootstrapped by the action value, into its score, as TD(λ) does
	// (default 1: the H-step return alone). It applies to a model with an
	// action value (see the package documentation).
	Lambda float64 `json:"lambda" yaml:"lambda"`
	// Noise is how the K futures of different candidates draw their
	// noise: NoiseIndependent (default) draws anew for every future of
	// every candidate; NoiseCommon gives future k of every candidate the
	// same draws (common random numbers, one scenario per k, fixed for a
	// decision's iterations), so that candidates are compared on the same
	// K scenarios. It applies to a model that implements CommonNoiseModel
	// and to sampled futures (K > 1).
	Noise string `json:"noise" yaml:"noise"`
}

// The values of Config.Noise.
const (
	NoiseIndependent = "independent"
	NoiseCommon      = "common"
	DefaultNoise     = NoiseIndependent
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Method == "" {
		c.Method = CEM
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Horizon, DefaultHorizon)
	def(&c.Candidates, DefaultCandidates)
	def(&c.Samples, DefaultSamples)
	def(&c.Iterations, DefaultIterations)
	def(&c.Elites, max(1, c.Candidates/10))
	deff(&c.Discount, DefaultDiscount)
	deff(&c.Temperature, DefaultTemperature)
	deff(&c.InitStd, DefaultInitStd)
	deff(&c.MinStd, DefaultMinStd)
	deff(&c.Smoothing, DefaultSmoothing)
	deff(&c.Lambda, DefaultLambda)
	if c.Noise == "" {
		c.Noise = DefaultNoise
	}
	return c
}

// Validate checks every field (zero meaning the default) and returns the
// first problem as a one-line error wrapping ErrConfig that names the
// field and its allowed values.
func (c Config) Validate() error {
	r := c.WithDefaults()
	bad := func(field string, v any, allowed string) error {
		return fmt.Errorf("%w: %s %v (allowed: %s)", ErrConfig, field, v, allowed)
	}
	in := func(v, lo, hi float64, loOpen, hiOpen bool) bool {
		if math.IsNaN(v) || v < lo || v > hi {
			return false
		}
		return !(loOpen && v == lo) && !(hiOpen && v == hi)
	}
	switch {
	case r.Method != CEM && r.Method != MPPI && r.Method != Rollout:
		return bad("method", strconv.Quote(string(c.Method)), "cem, mppi, rollout")
	case r.Horizon < 1:
		return bad("horizon", c.Horizon, fmt.Sprintf("≥ 1, 0 for %d", DefaultHorizon))
	case r.Candidates < 1:
		return bad("candidates", c.Candidates, fmt.Sprintf("≥ 1, 0 for %d", DefaultCandidates))
	case r.Samples < 1:
		return bad("samples", c.Samples, fmt.Sprintf("≥ 1, 0 for %d", DefaultSamples))
	case r.Iterations < 1:
		return bad("iterations", c.Iterations, fmt.Sprintf("≥ 1, 0 for %d", DefaultIterations))
	case r.Elites < 1 || r.Elites > r.Candidates:
		return bad("elites", c.Elites, fmt.Sprintf("1 to candidates (%d), 0 for 10%% of candidates", r.Candidates))
	case !in(r.Discount, 0, 1, true, false):
		return bad("discount", c.Discount, fmt.Sprintf("0 < γ ≤ 1, 0 for %g", DefaultDiscount))
	case !in(r.Temperature, 0, math.MaxFloat64, true, false):
		return bad("temperature", c.Temperature, fmt.Sprintf("> 0, 0 for %g", DefaultTemperature))
	case !in(r.InitStd, 0, math.MaxFloat64, true, false):
		return bad("init_std", c.InitStd, fmt.Sprintf("> 0, 0 for %g", DefaultInitStd))
	case !in(r.MinStd, 0, r.InitStd, true, false):
		return bad("min_std", c.MinStd, fmt.Sprintf("0 < min_std ≤ init_std (%g), 0 for %g", r.InitStd, DefaultMinStd))
	case !in(r.Momentum, 0, 1, false, true):
		return bad("momentum", c.Momentum, "0 ≤ m < 1")
	case !in(r.Smoothing, 0, 1, true, true):
		return bad("smoothing", c.Smoothing, fmt.Sprintf("0 < ε < 1, 0 for %g", DefaultSmoothing))
	case !in(r.Lambda, 0, 1, true, false):
		return bad("lambda", c.Lambda, fmt.Sprintf("0 < λ ≤ 1, 0 for %g", DefaultLambda))
	case r.Noise != NoiseIndependent && r.Noise != NoiseCommon:
		return bad("noise", strconv.Quote(c.Noise), "independent, common")
	}
	return r.Risk.validate()
}

// RiskKind selects how the K scores of a candidate are aggregated.
type RiskKind int

const (
	// RiskMean is the mean of the scores (risk-neutral).
	RiskMean RiskKind = iota
	// RiskCVaR is the conditional value at risk at level α: the mean of
	// the worst α fraction of the scores (pessimistic).
	RiskCVaR
	// RiskQuantile is the q-quantile of the scores; q > ½ is optimistic.
	RiskQuantile
)

// Risk is a risk measure over a candidate's K sampled scores. The zero
// value is the mean.
//
// With the scores sorted, s_(1) ≤ … ≤ s_(K):
//
//	mean        (1/K) Σ_i s_(i)
//	cvar:α      (1/m) [ Σ_{i ≤ ⌊m⌋} s_(i) + (m − ⌊m⌋) s_(⌊m⌋+1) ],  m = αK, 0 < α ≤ 1
//	quantile:q  s_(1+⌊p⌋) + (p − ⌊p⌋)(s_(2+⌊p⌋) − s_(1+⌊p⌋)),       p = q(K − 1), 0 ≤ q ≤ 1
//
// CVaR is that of the empirical distribution (Rockafellar & Uryasev 2002),
// which counts the boundary sample fractionally, so cvar:1 is the mean and
// cvar:α with αK < 1 is the minimum. The quantile interpolates linearly
// between order statistics (Hyndman & Fan 1996, type 7; NumPy's default).
type Risk struct {
	Kind RiskKind
	// Level is α for RiskCVaR, q for RiskQuantile, unused for the mean.
	Level float64
}

const riskForms = "mean, cvar:α with 0 < α ≤ 1, quantile:q or optimistic:q with 0 ≤ q ≤ 1"

// ParseRisk parses "mean", "cvar:α", "quantile:q" or "optimistic:q" (a
// synonym of quantile:q, read as an optimistic quantile such as 0.9).
func ParseRisk(s string) (Risk, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	bad := func() (Risk, error) {
		return Risk{}, fmt.Errorf("%w: risk %q (allowed: %s)", ErrConfig, s, riskForms)
	}
	var r Risk
	switch strings.ToLower(name) {
	case "mean":
		if hasArg {
			return bad()
		}
		return Risk{}, nil
	case "cvar":
		r.Kind = RiskCVaR
	case "quantile", "optimistic":
		r.Kind = RiskQuantile
	default:
		return bad()
	}
	v, err := strconv.ParseFloat(arg, 64)
	if !hasArg || err != nil {
		return bad()
	}
	r.Level = v
	if r.validate() != nil {
		return bad()
	}
	return r, nil
}

func (r Risk) validate() error {
	ok := false
	switch r.Kind {
	case RiskMean:
		ok = true
	case RiskCVaR:
		ok = r.Level > 0 && r.Level <= 1
	case RiskQuantile:
		ok = r.Level >= 0 && r.Level <= 1
	}
	if !ok {
		return fmt.Errorf("%w: risk %s (allowed: %s)", ErrConfig, r, riskForms)
	}
	return nil
}

// String formats r as ParseRisk reads it.
func (r Risk) String() string {
	switch r.Kind {
	case RiskMean:
		return "mean"
	case RiskCVaR:
		return "cvar:" + strconv.FormatFloat(r.Level, 'g', -1, 64)
	case RiskQuantile:
		return "quantile:" + strconv.FormatFloat(r.Level, 'g', -1, 64)
	}
	return fmt.Sprintf("risk(%d):%g", int(r.Kind), r.Level)
}

// MarshalText writes r as String does, so that configs hold "cvar:0.25".
func (r Risk) MarshalText() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads r as ParseRisk does; empty text is the mean.
func (r *Risk) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = Risk{}
		return nil
	}
	v, err := ParseRisk(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Aggregate returns the risk measure of scores, sorting them in place
// (ascending). It allocates nothing. NaN scores must have been replaced by
// the caller (the planner maps them to −Inf).
func (r Risk) Aggregate(scores []float64) float64 {
	n := len(scores)
	if n == 0 {
		panic("planner: Risk.Aggregate of no scores")
	}
	if r.Kind == RiskMean {
		s := 0.0
		for _, v := range scores {
			s += v
		}
		return s / float64(n)
	}
	slices.Sort(scores)
	switch r.Kind {
	case RiskCVaR:
		m := r.Level * float64(n)
		whole := int(m)
		s := 0.0
		for _, v := range scores[:whole] {
			s += v
		}
		if frac := m - float64(whole); frac > 0 && whole < n {
			s += frac * scores[whole]
		}
		return s / m
	default:
		p := r.Level * float64(n-1)
		lo := int(p)
		if lo >= n-1 {
			return scores[n-1]
		}
		return scores[lo] + (p-float64(lo))*(scores[lo+1]-scores[lo])
	}
}
