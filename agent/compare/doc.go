// Package compare measures the sample efficiency of latent dynamics, or
// of any config values: it trains each dynamics (Gaussian, deterministic,
// or any other the world model offers) on the same seeds with everything
// else identical, and reports learning curves, final returns, areas under
// the curve, steps to a threshold, the world model's held-out calibration
// and a test of the difference between each pair of dynamics. `dream
// compare` is its command line.
//
// # Variants
//
// A comparison may also vary config keys (Vary, dream compare --vary
// planner.horizon=1,3,5): every combination of their values is a config
// Variant, and the grid runs every variant with every dynamics and seed.
// Each (variant, dynamics) is an arm of the comparison, and arms are what
// the statistics compare. A variant is labelled by the keys in which the
// resolved configs of the variants differ, each with its value as the
// config holds it (VariedKeys, VariantLabel), such as
// "model.frame_stack=1,planner.horizon=3": "0.10" and "0.1" are one
// value, and a default that follows a varied key (explore_steps follows
// steps) is a varied key too. A merge derives the labels from the run
// configs by the same rule, so it needs nothing but the run directories.
// Without variants every name and file is that of a comparison of
// dynamics alone.
//
// # Output
//
// A Sweep writes under its output directory one run directory per
// (variant, dynamics, seed), named such as gaussian-s0, or
// planner.horizon=3_gaussian-s0 with a variant (an ordinary run
// directory: dream train --resume and dream eval work on it), and for
// the whole grid
//
//	curves.csv    env_steps,dynamics,seed,eval_return,success (every evaluation),
//	              then variant where the comparison has variants
//	curves.png    mean evaluation return of each arm against steps, with bootstrap bands
//	summary.md    the report, for people
//	summary.json  the same numbers, for programs (Summary)
//
// Each finished run directory also gets calibration.json, its held-out
// calibration (CalibrationFile).
//
// # Statistics
//
// Seeds are the unit of replication: every interval is a percentile
// bootstrap interval over seeds (BootstrapMean). For run k with
// evaluations (s_i, R_i) the area under the curve is the trapezoid area
// divided by the step range (AUC), the mean return over training; the
// final return is R at the last evaluation; the steps to threshold are
// the first s_i with R_i ≥ threshold (StepsToThreshold), where the
// threshold defaults to best − 0.1·|best| over the arms' final mean
// returns (DefaultThreshold). Two arms are compared by their per-seed
// AUCs with Welch's t-test (WelchTest) and a bootstrap interval
// and p-value of the difference (BootstrapDiff); the difference is
// called significant when Welch's p is below Analysis.Alpha (0.05).
// With a handful of seeds these tests have little power: Agarwal et al.
// (2021, "Deep Reinforcement Learning at the Edge of the Statistical
// Precipice") recommend reporting the intervals, as the summary does.
//
// # Resuming and sharding
//
// Rerunning a sweep with the same output directory skips finished runs,
// resumes half-finished ones from their newest checkpoint, and refuses a
// run directory whose config differs from the one requested.
//
// Beyond one machine a sweep is split into shards: Shard{Index: i,
// Count: n} runs job k of the sorted grid (variant by VariantOrder, then
// dynamics by name, then seed) when k mod n = i, and writes only its run directories. Merge (dream
// compare --merge DIR... --out DIR) then builds the report from the
// finished run directories of all shards; it equals the report of the
// unsharded sweep, since each run depends only on its config and seed. A
// Slurm job array maps onto shards as
//
//	#SBATCH --array=0-3
//	dream compare --env E --seeds 5 --out runs/cmp-$SLURM_ARRAY_TASK_ID \
//	    --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
//
// and a Kubernetes Indexed Job with completions: 4 as --shard
// $JOB_COMPLETION_INDEX/4. Shards may share one output directory on a
// shared file system, since they write disjoint run directories.
package compare
