//go:build openblas

package worldmodel

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
*/
import "C"

import (
	"os"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// UseFastBLAS switches gorgonia's and gonum's BLAS (blas32 and blas64) to
// OpenBLAS through gonum.org/v1/netlib and returns the implementation's
// name. Unless OPENBLAS_NUM_THREADS is set, OpenBLAS runs on one thread:
// the model's products are small, and OpenBLAS's spinning worker threads
// cost more than they save on a machine of two cores. It changes
// process-wide settings: call it once, before training. Builds without the
// openblas tag use gonum's pure-Go BLAS.
func UseFastBLAS() string {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		C.openblas_set_num_threads(1)
	}
	impl := netlib.Implementation{}
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
	return "OpenBLAS (netlib)"
}
