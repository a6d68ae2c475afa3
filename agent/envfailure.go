package agent

import (
	"fmt"

	"github.com/dreamrl/dream/envs"
)

// recoverEnvFailure, deferred by Train, stops the run when an environment
// fails: an *envs.Failure panic (Reset and Step have no error result; a
// Gymnasium child that died or wrote garbage panics with one) becomes the
// error *err after a checkpoint is written, so that the steps taken before
// the failure are kept and the run resumes with --resume. The step that
// failed was not stored: a failure comes from env.Reset or env.Step before
// the run records anything of that step, or from an evaluation, which
// changes nothing. Every other panic goes on.
func (r *Run) recoverEnvFailure(err *error) {
	v := recover()
	if v == nil {
		return
	}
	f, ok := v.(*envs.Failure)
	if !ok {
		panic(v)
	}
	if cerr := r.Checkpoint(); cerr != nil {
		*err = fmt.Errorf("env %s failed at env step %d: %w; and the checkpoint failed: %v", r.cfg.Env, r.st.EnvSteps, f, cerr)
		return
	}
	*err = fmt.Errorf("env %s failed at env step %d: %w; a checkpoint of the steps before it was written (continue with --resume)", r.cfg.Env, r.st.EnvSteps, f)
}

// Close releases the run's training environment (for a Gymnasium
// environment, its Python child). The run must not train afterwards; it
// may still be evaluated, which makes environments of its own.
func (r *Run) Close() error {
	if r.env == nil {
		return nil
	}
	return envs.Close(r.env)
}
