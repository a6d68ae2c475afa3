package compare

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrShard reports a shard specification that cannot be used.
var ErrShard = errors.New("bad shard")

// Job is one run of a comparison: a config variant, a latent dynamics
// and a seed.
type Job struct {
	// Variant is the label of the job's config variant (see Variant),
	// such as "planner.horizon=3"; "" in a comparison of dynamics alone.
	Variant  string
	Dynamics string
	Seed     uint64
}

// Name is the job's run directory name under the comparison's output
// directory: such as "gaussian-s0", or with a variant
// "planner.horizon=3_gaussian-s0".
func (j Job) Name() string {
	name := fmt.Sprintf("%s-s%d", j.Dynamics, j.Seed)
	if j.Variant != "" {
		name = j.Variant + "_" + name
	}
	return name
}

// Arm names the group of runs the job is a seed of: its dynamics, such
// as "gaussian", or with a variant "planner.horizon=3 gaussian".
func (j Job) Arm() string {
	if j.Variant == "" {
		return j.Dynamics
	}
	return j.Variant + " " + j.Dynamics
}

// compareJobs orders jobs by variant (VariantOrder), dynamics and seed.
func compareJobs(a, b Job) int {
	if c := VariantOrder(a.Variant, b.Variant); c != 0 {
		return c
	}
	if c := strings.Compare(a.Dynamics, b.Dynamics); c != 0 {
		return c
	}
	return cmp.Compare(a.Seed, b.Seed)
}

// Grid returns the sorted grid of jobs: every variant (by VariantOrder)
// with every dynamics (by name) and every seed 0 … seeds−1, ordered by
// variant, then dynamics, then seed, with duplicates dropped; no
// variants means the one variant "". The order does not depend on the
// order variants and dynamics are listed in, so every shard of a sweep
// agrees on it.
func Grid(variants, dynamics []string, seeds int) []Job {
	vs := slices.Clone(variants)
	if len(vs) == 0 {
		vs = []string{""}
	}
	slices.SortFunc(vs, VariantOrder)
	vs = slices.Compact(vs)
	ds := slices.Clone(dynamics)
	slices.Sort(ds)
	ds = slices.Compact(ds)
	jobs := make([]Job, 0, len(vs)*len(ds)*max(seeds, 0))
	for _, v := range vs {
		for _, d := range ds {
			for s := 0; s < seeds; s++ {
				jobs = append(jobs, Job{Variant: v, Dynamics: d, Seed: uint64(s)})
			}
		}
	}
	return jobs
}

// Shard is part Index of Count of a grid. The zero value is the whole
// grid.
//
// Job k of the sorted grid (from 0) belongs to shard k mod Count, so
// the shards interleave the variants and dynamics and are within one job
// of each other in size. Batch schedulers number their tasks the same
// way: a Slurm job array submitted with --array=0-(n−1) runs shard
// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, and a Kubernetes Indexed
// Job with completions n runs shard $JOB_COMPLETION_INDEX/n.
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" with 0 ≤ i < n; "" is the whole grid.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%w %q (allowed: i/n with 0 ≤ i < n, such as 0/4)", ErrShard, s)
	}
	return Shard{Index: i, Count: n}, nil
}

// Whole reports whether the shard is the whole grid.
func (s Shard) Whole() bool { return s.Count <= 1 }

// String formats the shard as ParseShard reads it.
func (s Shard) String() string {
	if s.Whole() {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Select returns the jobs of the grid that belong to the shard.
func (s Shard) Select(jobs []Job) []Job {
	if s.Whole() {
		return slices.Clone(jobs)
	}
	var out []Job
	for k, j := range jobs {
		if k%s.Count == s.Index {
			out = append(out, j)
		}
	}
	return out
}
