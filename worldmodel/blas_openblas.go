//go:build openblas

package worldmodel

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
*/
import "C"

import (
	"fmt"
	"os"
	"strings"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"

	"github.com/dreamrl/dream/internal/fastblas"
)

// UseFastBLAS switches gorgonia's and gonum's BLAS (blas32 and blas64) to
// OpenBLAS through gonum.org/v1/netlib and returns the implementation's
// name, with the core type OpenBLAS runs and how it was chosen. Unless
// OPENBLAS_NUM_THREADS is set, OpenBLAS runs on one thread: the model's
// products are small, and OpenBLAS's spinning worker threads cost more
// than they save on a machine of two cores. It changes process-wide
// settings: call it once, before training. Builds without the openblas
// tag load OpenBLAS at run time (blas_gonum.go).
//
// In this build OpenBLAS is linked into the program and picks its core
// type when the program starts, before any Go code runs, so dream cannot
// choose it as the default build does (fastblas.ChooseCoreType): the core
// type is OpenBLAS's own detection or the OPENBLAS_CORETYPE the program
// was started with. Where the two builds' core types differ, the name
// says which the default build would choose, so that it can be set by
// hand.
func UseFastBLAS() string {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		C.openblas_set_num_threads(1)
	}
	impl := netlib.Implementation{}
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
	core := strings.TrimSpace(C.GoString(C.openblas_get_corename()))
	return "OpenBLAS (netlib), linked at start; core " + core + ", " + linkedCoreOrigin(core)
}

// linkedCoreOrigin says how OpenBLAS, linked at start, came to run the
// core type core: set by OPENBLAS_CORETYPE when it names core, detected
// by OpenBLAS otherwise, with the setting it did not apply or the core
// type the default build would choose when that differs.
func linkedCoreOrigin(core string) string {
	user, userSet := os.LookupEnv("OPENBLAS_CORETYPE")
	switch {
	case userSet && user != "" && strings.EqualFold(user, core):
		return "set by OPENBLAS_CORETYPE"
	case userSet && user != "":
		return "detected by OpenBLAS (OPENBLAS_CORETYPE=" + user + " not applied)"
	}
	how := "detected by OpenBLAS"
	if want, why := fastblas.ChooseCoreType(fastblas.HostCPU(), user, userSet); want != "" && !strings.EqualFold(want, core) {
		how += fmt.Sprintf(" (linked at start, so dream does not choose; the run-time build would choose %s: %s)", want, why)
	}
	return how
}
