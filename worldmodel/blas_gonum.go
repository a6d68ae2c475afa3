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
// name of what it chose, with the core type OpenBLAS runs and how it was
// chosen ("core Zen, chosen by dream (AVX2 and FMA, Zen family)"); without
// the library it leaves gonum's pure-Go BLAS in place and says so. This
// needs neither cgo nor a build tag, so the default build uses OpenBLAS
// wherever it exists. Unless OPENBLAS_NUM_THREADS is set, OpenBLAS runs on
// one thread: the model's products are small, and OpenBLAS's spinning
// worker threads cost more than they save on a machine of two cores.
// Unless OPENBLAS_CORETYPE is set, OpenBLAS runs the kernels
// fastblas.ChooseCoreType names for a CPU with AVX2, where some releases
// would fall back to their slowest (Prescott's). It changes process-wide
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
	name := lib.Name() + ", loaded at run time"
	if core, how := lib.CoreType(); core != "" {
		name += "; core " + core + ", " + how
	}
	return name
}
