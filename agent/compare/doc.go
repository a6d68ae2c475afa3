// Package compare measures the sample efficiency of latent dynamics: it
// trains each dynamics (Gaussian, deterministic, or any other the world
// model offers) on the same seeds with everything else identical, and
// reports learning curves, final returns, areas under the curve, steps to
// a threshold, the world model's held-out calibration and a test of the
// difference between each pair of dynamics. `dream compare` is its
// command line.
//
// # Output
//
// A Sweep writes under its output directory one run directory per
// (dynamics, seed), named such as gaussian-s0 (an ordinary run directory:
// dream train --resume and dream eval work on it), and for the whole grid
//
//	curves.csv    env_steps,dynamics,seed,eval_return,success (every evaluation)
//	curves.png    mean evaluation return against steps, with bootstrap bands
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
// threshold defaults to best − 0.1·|best| over the dynamics' final mean
// returns (DefaultThreshold). Two dynamics are compared by their
// per-seed AUCs with Welch's t-test (WelchTest) and a bootstrap interval
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
// Count: n} runs job k of the sorted grid (dynamics by name, then seed)
// when k mod n = i, and writes only its run directories. Merge (dream
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
