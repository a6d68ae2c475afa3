//go:build openblas

package worldmodel

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// UseFastBLAS switches gorgonia's and gonum's BLAS (blas32 and blas64) to
// OpenBLAS through gonum.org/v1/netlib and returns the implementation's
// name. It changes process-wide settings: call it once, before training.
// Builds without the openblas tag use gonum's pure-Go BLAS.
func UseFastBLAS() string {
	impl := netlib.Implementation{}
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
	return "OpenBLAS (netlib)"
}
