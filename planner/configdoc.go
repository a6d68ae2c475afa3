package planner

// KeyDocs returns a one-line description of every key of Config, by its
// JSON (and YAML) name: what the setting does and the values it allows.
// `dream config` and the configuration reference print them.
func KeyDocs() map[string]string {
	return map[string]string{
		"method":      "planning algorithm: cem (refit to the elites), mppi (weight every candidate by exp(score/temperature)) or rollout (discrete actions and value_target q: every first action, then greedy on q in each sampled future)",
		"horizon":     "imagined steps H of a plan; 1 acts on the action value at the observed latent alone; 1 or more",
		"candidates":  "action sequences N scored per iteration; 1 or more",
		"samples":     "futures K sampled per candidate; 1 plans on the predicted mean; 1 or more",
		"iterations":  "refits of the sampling distribution per decision; 1 or more",
		"elites":      "best candidates CEM refits to; 1 to candidates (0: a tenth of them)",
		"discount":    "discount γ of a plan's imagined rewards; 0 < γ ≤ 1",
		"temperature": "MPPI's temperature, in units of score; > 0",
		"init_std":    "first spread of continuous actions, as a fraction of each dimension's half range; > 0",
		"min_std":     "smallest spread of continuous actions, as a fraction of the half range; 0 < min_std ≤ init_std",
		"momentum":    "share m of the previous distribution kept at each refit; 0 ≤ m < 1",
		"smoothing":   "share ε of the uniform distribution mixed into each discrete action's refitted categorical; 0 < ε < 1",
		"lambda":      "weight λ of TD(λ) over a future's h-step returns, each bootstrapped by the action value q (1: the H-step return alone; without q it has no effect); 0 < λ ≤ 1",
		"noise":       "how the sampled futures of different candidates draw their noise: independent, or common (future k of every candidate shares one draw, fixed for a decision, so that candidates are compared on the same scenarios)",
		"risk":        "how a candidate's K sampled scores are aggregated: mean, cvar:α (mean of the worst α, 0 < α ≤ 1) or quantile:q (0 ≤ q ≤ 1)",
	}
}
