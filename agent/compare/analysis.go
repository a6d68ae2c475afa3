package compare

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// ErrAnalysis reports analysis options that cannot be used.
var ErrAnalysis = errors.New("bad analysis options")

// Analysis configures the statistics of a comparison. The zero value of
// each field means the default written next to it.
type Analysis struct {
	// Threshold, when not nil, is the evaluation return a run must reach;
	// nil means DefaultThreshold of the final mean returns.
	Threshold *float64
	// Level is the confidence level of every interval. Default 0.95.
	Level float64
	// Alpha is the significance level of the difference tests.
	// Default 0.05.
	Alpha float64
	// Resamples is the number of bootstrap resamples. Default 10000.
	Resamples int
	// Seed seeds the bootstrap: each statistic draws from its own stream
	// (this seed and a hash of the statistic's name), so the numbers do
	// not depend on which other statistics were computed.
	Seed uint64
	// CalibrationEpisodes is the number of held-out episodes each run's
	// calibration plays. Default 10.
	CalibrationEpisodes int
}

// WithDefaults returns a with its zero fields set to their defaults.
func (a Analysis) WithDefaults() Analysis {
	if a.Level == 0 {
		a.Level = 0.95
	}
	if a.Alpha == 0 {
		a.Alpha = 0.05
	}
	if a.Resamples == 0 {
		a.Resamples = 10000
	}
	if a.CalibrationEpisodes == 0 {
		a.CalibrationEpisodes = 10
	}
	return a
}

// Validate checks the options after filling in defaults.
func (a Analysis) Validate() error {
	a = a.WithDefaults()
	switch {
	case a.Threshold != nil && (math.IsNaN(*a.Threshold) || math.IsInf(*a.Threshold, 0)):
		return fmt.Errorf("%w: threshold %g (allowed: a finite return)", ErrAnalysis, *a.Threshold)
	case !(a.Level > 0 && a.Level < 1):
		return fmt.Errorf("%w: level %g (allowed: between 0 and 1)", ErrAnalysis, a.Level)
	case !(a.Alpha > 0 && a.Alpha < 1):
		return fmt.Errorf("%w: alpha %g (allowed: between 0 and 1)", ErrAnalysis, a.Alpha)
	case a.Resamples < 1 || a.Resamples > 10_000_000:
		return fmt.Errorf("%w: resamples %d (allowed: 1 to 10000000)", ErrAnalysis, a.Resamples)
	case a.CalibrationEpisodes < 1 || a.CalibrationEpisodes > 10000:
		return fmt.Errorf("%w: calibration episodes %d (allowed: 1 to 10000)", ErrAnalysis, a.CalibrationEpisodes)
	}
	return nil
}

// rng returns the bootstrap stream of the named statistic.
func (a Analysis) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(a.Seed, h.Sum64()))
}

// Summary is the outcome of a comparison: per arm (a dynamics, or a
// config variant with a dynamics), its learning curve, final return,
// area under the curve, steps to a threshold and held-out calibration;
// per pair of arms, a test of the difference of their areas under the
// curve.
type Summary struct {
	Env          string `json:"env"`
	Map          string `json:"map,omitempty"`
	Obs          string `json:"obs"`
	Steps        int    `json:"steps"`
	EvalEvery    int    `json:"eval_every"`
	EvalEpisodes int    `json:"eval_episodes"`
	PlanWith     string `json:"plan_with"`
	// HasGoal tells whether the environment reports success.
	HasGoal bool `json:"has_goal"`
	// Level, Alpha and Resamples are the analysis settings used.
	Level     float64 `json:"level"`
	Alpha     float64 `json:"alpha"`
	Resamples int     `json:"resamples"`
	// Threshold is the return of StepsToThreshold and ThresholdRule says
	// where it came from.
	Threshold     Float  `json:"threshold"`
	ThresholdRule string `json:"threshold_rule"`
	// CalibrationEpisodes is the number of held-out episodes per run.
	CalibrationEpisodes int `json:"calibration_episodes"`
	// Varied lists the config keys the variants differ in, sorted; empty
	// in a comparison of dynamics alone.
	Varied []string `json:"varied,omitempty"`
	// Arms is sorted by variant (VariantOrder), then dynamics. Its JSON
	// name, "dynamics", is older than variants; programs read it.
	Arms []ArmSummary `json:"dynamics"`
	// Comparisons holds one entry per pair of arms, in the order of Arms.
	Comparisons []Comparison `json:"comparisons"`
}

// ArmSummary is what the runs of one arm of a comparison, a dynamics
// with a config variant, achieved. Intervals are percentile bootstrap
// intervals over seeds.
type ArmSummary struct {
	// Name is Job.Arm: the dynamics, such as "gaussian", or the variant
	// and the dynamics, such as "planner.horizon=3 gaussian".
	Name string `json:"name"`
	// Variant is the label of the config variant ("" for none; see
	// Variant) and Dynamics the latent dynamics.
	Variant  string   `json:"variant,omitempty"`
	Dynamics string   `json:"dynamics"`
	Seeds    []uint64 `json:"seeds"`
	// FinalReturn is the mean over seeds of the last evaluation's return.
	FinalReturn        Interval `json:"final_return"`
	FinalReturnPerSeed []Float  `json:"final_return_per_seed"`
	// FinalSuccess is the same for the success rate, where the
	// environment has a goal.
	FinalSuccess *Interval `json:"final_success,omitempty"`
	// AUC is the mean over seeds of the area under each seed's curve
	// (see AUC): the mean evaluation return over training.
	AUC        Interval `json:"auc"`
	AUCPerSeed []Float  `json:"auc_per_seed"`
	// StepsToThreshold is the first evaluation that reached the
	// threshold, per seed.
	StepsToThreshold ThresholdSteps `json:"steps_to_threshold"`
	// Calibration is the held-out calibration averaged over seeds (N
	// summed).
	Calibration Calibration `json:"calibration"`
	// Curve is the mean learning curve with its bootstrap band.
	Curve []CurvePoint `json:"curve"`
}

// ThresholdSteps is the environment steps each seed took to reach the
// threshold.
type ThresholdSteps struct {
	// PerSeed is in the order of the seeds; null where the seed never
	// reached the threshold.
	PerSeed []*int `json:"per_seed"`
	// Reached and NotReached count the seeds.
	Reached    int `json:"reached"`
	NotReached int `json:"not_reached"`
	// Steps is the mean over the seeds that reached it, with its
	// bootstrap interval (NaN if none did). It leaves out the seeds that
	// did not reach it, so it flatters an arm with NotReached > 0.
	Steps Interval `json:"steps"`
}

// CurvePoint is the mean evaluation return over seeds at one step.
type CurvePoint struct {
	Steps  int      `json:"env_steps"`
	Seeds  int      `json:"seeds"`
	Return Interval `json:"return"`
}

// Comparison tests the difference of two arms' areas under the curve.
type Comparison struct {
	A    string `json:"a"`
	B    string `json:"b"`
	AUCA Float  `json:"auc_a"`
	AUCB Float  `json:"auc_b"`
	// Difference is AUC_A − AUC_B with its bootstrap interval, and
	// BootstrapP the bootstrap p-value of no difference (BootstrapDiff).
	Difference Interval `json:"difference"`
	BootstrapP Float    `json:"bootstrap_p"`
	// Welch is Welch's t-test of the per-seed AUCs.
	Welch Welch `json:"welch"`
	// Higher names the arm with the higher mean AUC ("" if equal).
	Higher string `json:"higher"`
	// Significant is Welch's p < Alpha; Testable is false when an arm
	// has fewer than two seeds.
	Significant bool `json:"significant"`
	Testable    bool `json:"testable"`
}

// Analyze computes the summary of a comparison from finished runs that
// differ only in variant, dynamics and seed (CollectRuns checks that),
// grouped into arms by their Job's variant and dynamics. The result
// depends only on the runs and the options, not on their order.
func Analyze(runs []RunResult, a Analysis) (*Summary, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a = a.WithDefaults()
	if len(runs) == 0 {
		return nil, fmt.Errorf("compare: analyze: %w: no finished runs", ErrMismatch)
	}
	runs = slices.Clone(runs)
	sortRuns(runs)
	cfg := runs[0].Config
	s := &Summary{Env: cfg.Env, Map: cfg.Map, Obs: cfg.Obs, Steps: cfg.Steps, EvalEvery: cfg.EvalEvery,
		EvalEpisodes: cfg.EvalEpisodes, PlanWith: cfg.PlanWith, Level: a.Level, Alpha: a.Alpha,
		Resamples: a.Resamples, CalibrationEpisodes: a.CalibrationEpisodes}
	var groups [][]RunResult
	for i, r := range runs {
		if len(r.Curve) == 0 {
			return nil, fmt.Errorf("compare: analyze: run %s has no evaluation", r.Job.Name())
		}
		if i == 0 || r.Job.Variant != runs[i-1].Job.Variant || r.Job.Dynamics != runs[i-1].Job.Dynamics {
			groups = append(groups, nil)
		}
		for _, p := range parseLabel(r.Job.Variant) {
			if !slices.Contains(s.Varied, p.key) {
				s.Varied = append(s.Varied, p.key)
			}
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], r)
		s.HasGoal = s.HasGoal || r.HasGoal
	}
	finals := make([]float64, len(groups))
	for g, rs := range groups {
		d := ArmSummary{Name: rs[0].Job.Arm(), Variant: rs[0].Job.Variant, Dynamics: rs[0].Job.Dynamics}
		var fin, succ, aucs []float64
		var cal Calibration
		for _, r := range rs {
			d.Seeds = append(d.Seeds, r.Job.Seed)
			f := r.Final()
			fin = append(fin, f.Return)
			succ = append(succ, f.Success)
			auc := AUC(r.Curve)
			aucs = append(aucs, auc)
			d.FinalReturnPerSeed = append(d.FinalReturnPerSeed, Float(f.Return))
			d.AUCPerSeed = append(d.AUCPerSeed, Float(auc))
			cal.N += r.Calibration.N
			cal.NLLPerDim += r.Calibration.NLLPerDim
			cal.Within1 += r.Calibration.Within1
			cal.Within2 += r.Calibration.Within2
			cal.ECE += r.Calibration.ECE
		}
		n := Float(len(rs))
		cal.NLLPerDim /= n
		cal.Within1 /= n
		cal.Within2 /= n
		cal.ECE /= n
		d.Calibration = cal
		d.FinalReturn = BootstrapMean(fin, a.Level, a.Resamples, a.rng("final_return/"+d.Name))
		if s.HasGoal {
			iv := BootstrapMean(succ, a.Level, a.Resamples, a.rng("final_success/"+d.Name))
			d.FinalSuccess = &iv
		}
		d.AUC = BootstrapMean(aucs, a.Level, a.Resamples, a.rng("auc/"+d.Name))
		d.Curve = meanCurve(rs, a, "curve/"+d.Name)
		finals[g] = d.FinalReturn.Mean
		s.Arms = append(s.Arms, d)
	}
	slices.Sort(s.Varied)
	threshold := DefaultThreshold(finals)
	s.ThresholdRule = "best − 0.1·|best| of the final mean returns"
	if a.Threshold != nil {
		threshold = *a.Threshold
		s.ThresholdRule = "set by the user"
	}
	s.Threshold = Float(threshold)
	for g, rs := range groups {
		d := &s.Arms[g]
		var reached []float64
		for _, r := range rs {
			if n, ok := StepsToThreshold(r.Curve, threshold); ok {
				d.StepsToThreshold.PerSeed = append(d.StepsToThreshold.PerSeed, &n)
				reached = append(reached, float64(n))
			} else {
				d.StepsToThreshold.PerSeed = append(d.StepsToThreshold.PerSeed, nil)
			}
		}
		d.StepsToThreshold.Reached = len(reached)
		d.StepsToThreshold.NotReached = len(rs) - len(reached)
		d.StepsToThreshold.Steps = BootstrapMean(reached, a.Level, a.Resamples, a.rng("steps_to_threshold/"+d.Name))
	}
	for i := range s.Arms {
		for j := i + 1; j < len(s.Arms); j++ {
			s.Comparisons = append(s.Comparisons, compareAUC(s.Arms[i], s.Arms[j], a))
		}
	}
	return s, nil
}

func floats(v []Float) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// compareAUC tests the difference of the per-seed AUCs of x and y.
func compareAUC(x, y ArmSummary, a Analysis) Comparison {
	ax, ay := floats(x.AUCPerSeed), floats(y.AUCPerSeed)
	c := Comparison{A: x.Name, B: y.Name, AUCA: Float(x.AUC.Mean), AUCB: Float(y.AUC.Mean)}
	diff, p := BootstrapDiff(ax, ay, a.Level, a.Resamples, a.rng("auc_difference/"+x.Name+"/"+y.Name))
	c.Difference, c.BootstrapP = diff, Float(p)
	c.Welch = WelchTest(ax, ay)
	switch {
	case x.AUC.Mean > y.AUC.Mean:
		c.Higher = x.Name
	case y.AUC.Mean > x.AUC.Mean:
		c.Higher = y.Name
	}
	c.Testable = len(ax) >= 2 && len(ay) >= 2
	c.Significant = c.Testable && c.Welch.P < a.Alpha
	return c
}

// meanCurve averages the runs' curves step by step, with the bootstrap
// interval over the seeds evaluated at each step.
func meanCurve(runs []RunResult, a Analysis, name string) []CurvePoint {
	at := map[int][]float64{}
	for _, r := range runs {
		for _, p := range r.Curve {
			at[p.Steps] = append(at[p.Steps], p.Return)
		}
	}
	steps := make([]int, 0, len(at))
	for k := range at {
		steps = append(steps, k)
	}
	slices.Sort(steps)
	rng := a.rng(name)
	out := make([]CurvePoint, len(steps))
	for i, k := range steps {
		out[i] = CurvePoint{Steps: k, Seeds: len(at[k]), Return: BootstrapMean(at[k], a.Level, a.Resamples, rng)}
	}
	return out
}

// Verdict states in one sentence which arm had the higher AUC and
// whether the difference is significant at alpha.
func (c Comparison) Verdict(alpha float64) string {
	var who string
	switch c.Higher {
	case "":
		who = fmt.Sprintf("%s and %s had the same AUC (%.4g)", c.A, c.B, float64(c.AUCA))
	case c.A:
		who = fmt.Sprintf("%s had the higher AUC than %s (%.4g vs %.4g)", c.A, c.B, float64(c.AUCA), float64(c.AUCB))
	default:
		who = fmt.Sprintf("%s had the higher AUC than %s (%.4g vs %.4g)", c.B, c.A, float64(c.AUCB), float64(c.AUCA))
	}
	if !c.Testable {
		per := "dynamics"
		if strings.Contains(c.A+c.B, " ") { // a variant's arm (Job.Arm)
			per = "arm"
		}
		return who + "; the difference cannot be tested with fewer than 2 seeds per " + per + "."
	}
	sig := "is not significant"
	if c.Significant {
		sig = "is significant"
	}
	return fmt.Sprintf("%s; the difference %s at %g (Welch's t-test p = %.3g, bootstrap p = %.3g).",
		who, sig, alpha, c.Welch.P, float64(c.BootstrapP))
}
