//go:build !openblas

package worldmodel

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"

	"github.com/dreamrl/dream/internal/fastblas"
)

// UseFastBLAS switches gorgonia's and gonum's BLAS (blas32 and blas64) to
// OpenBLAS, loaded at run time when it is installed (libopenblas.so.0,
// libopenblas.so or libblas.so.3; see internal/fastblas), and returns the
// name of what it chose; without the library it leaves gonum's pure-Go
// BLAS in place and says so. This needs neither cgo nor a build tag, so
// the default build uses OpenBLAS wherever it exists. Unless
// OPENBLAS_NUM_THREADS is set, OpenBLAS runs on one thread: the model's
// products are small, and OpenBLAS's spinning worker threads cost more
// than they save on a machine of two cores. It changes process-wide
// settings: call it once, before training. Builds with the openblas tag
// link OpenBLAS through cgo instead (blas_openblas.go).
func UseFastBLAS() string {
	lib, err := fastblas.Load()
	if err != nil {
		return "gonum (pure Go)"
	}
	impl := lib.Implementation()
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
	return lib.Name() + ", loaded at run time"
}
