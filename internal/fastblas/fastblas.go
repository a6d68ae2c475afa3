// Package fastblas loads an optimised BLAS (OpenBLAS) at run time and
// offers its matrix products as gonum BLAS implementations, so that a
// binary built with CGO_ENABLED=0 still multiplies matrices with
// OpenBLAS's kernels wherever the library is installed, and with gonum's
// pure-Go BLAS elsewhere.
//
// Load opens the first of libopenblas.so.0, libopenblas.so and
// libblas.so.3 that exists, with github.com/ebitengine/purego's Dlopen,
// which needs no cgo (linux, darwin and freebsd on amd64; elsewhere Load
// returns ErrNotFound). It runs OpenBLAS on one thread unless
// OPENBLAS_NUM_THREADS says otherwise: the products of a small world
// model are too small for OpenBLAS's thread pool, whose spinning workers
// compete with the program's own goroutines on a machine of a few cores.
// Unless OPENBLAS_CORETYPE is set, it also names the kernels OpenBLAS
// uses on a CPU with AVX2 (ChooseCoreType), so that OpenBLAS does not
// fall back to its slowest x86-64 kernels on a CPU it does not know, and
// records which it runs and why (Library.CoreType).
//
// Implementation embeds gonum's pure-Go implementation and replaces its
// general matrix products Sgemm, Dgemm and matrix–vector products Sgemv,
// Dgemv by the library's, called through the Fortran interface
// (every argument by reference; a row-major product is computed as the
// transposed column-major one). Every other routine is gonum's. The
// calls are safe for concurrent use and allocate nothing.
//
// A binary that imports this package with CGO_ENABLED=0 is dynamically
// linked against the C library (purego's dlopen), so it no longer runs on
// an image without one (FROM scratch).
package fastblas

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotFound reports that none of the candidate libraries could be
// loaded; callers fall back to gonum's pure-Go BLAS.
var ErrNotFound = errors.New("fastblas: no BLAS library found")

// DefaultLibraries are the shared libraries Load tries, in order.
func DefaultLibraries() []string {
	return []string{"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}
}

// Library is a loaded BLAS shared library: the addresses of the Fortran
// routines sgemm_, dgemm_, sgemv_ and dgemv_. A Library is never unloaded.
type Library struct {
	path                       string
	version                    string
	coreType, coreHow          string // see CoreType
	sgemm, dgemm, sgemv, dgemv uintptr
	setThreads                 uintptr // openblas_set_num_threads, 0 when absent
}

// Load opens the first library of DefaultLibraries that loads and has the
// four routines. Unless the environment variable OPENBLAS_NUM_THREADS is
// set, it loads OpenBLAS with that variable set to 1 (and unsets it
// again): OpenBLAS starts a worker thread per core when it is loaded, and
// idle workers that spin take a core from the program's goroutines, even
// after openblas_set_num_threads(1), which it also calls. In the same way
// it sets OPENBLAS_CORETYPE, while loading, to the core type
// ChooseCoreType picks for this CPU (an empty value counts as unset and
// is restored afterwards). The error wraps ErrNotFound and says why each
// candidate failed.
//
// Both variables only matter to the first load of OpenBLAS in the
// process: a library already loaded, by an earlier Load or linked into
// the program, keeps its settings (CoreType then says what it runs).
func Load() (*Library, error) {
	_, threadsSet := os.LookupEnv(numThreadsVar)
	if !threadsSet {
		if err := os.Setenv(numThreadsVar, "1"); err == nil {
			defer os.Unsetenv(numThreadsVar)
		}
	}
	userCore, userCoreSet := os.LookupEnv(coreTypeVar)
	core, why := ChooseCoreType(HostCPU(), userCore, userCoreSet)
	if core != "" {
		if err := os.Setenv(coreTypeVar, core); err == nil {
			defer restoreEnv(coreTypeVar, userCore, userCoreSet)
		}
	}
	lib, err := LoadFrom(DefaultLibraries()...)
	if err != nil {
		return nil, err
	}
	lib.coreHow = describeCore(lib.coreType, core, why, userCore, userCoreSet)
	if !threadsSet {
		lib.SetThreads(1)
	}
	return lib, nil
}

// restoreEnv sets the environment variable name back to value, or unsets
// it when it was not set.
func restoreEnv(name, value string, set bool) {
	if set {
		os.Setenv(name, value)
		return
	}
	os.Unsetenv(name)
}

// numThreadsVar is the environment variable OpenBLAS reads its thread
// count from when it is loaded.
const numThreadsVar = "OPENBLAS_NUM_THREADS"

// LoadFrom opens the first of the named shared libraries (names as
// dlopen takes them: a file name searched on the library path, or a
// path) that loads and has the four routines. It changes no thread
// setting and no core type.
func LoadFrom(names ...string) (*Library, error) {
	var why []string
	for _, name := range names {
		lib, err := open(name)
		if err == nil {
			userCore, userCoreSet := os.LookupEnv(coreTypeVar)
			lib.coreHow = describeCore(lib.coreType, "", "", userCore, userCoreSet)
			return lib, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", name, err))
	}
	return nil, fmt.Errorf("%w (%s)", ErrNotFound, strings.Join(why, "; "))
}

// Name describes the library: OpenBLAS's build configuration (version,
// kernel, threading) when it reports one, and the file it was loaded from.
func (l *Library) Name() string {
	if l.version != "" {
		return fmt.Sprintf("%s (%s)", l.version, l.path)
	}
	return l.path
}

// CoreType returns the core type whose kernels an OpenBLAS library runs,
// as its openblas_get_corename reports it ("Haswell", "Zen",
// "SkylakeX", ...), and how it came to be chosen:
//
//	chosen by dream (AVX2 and FMA)   Load set OPENBLAS_CORETYPE (ChooseCoreType)
//	set by OPENBLAS_CORETYPE         the user's setting
//	detected by OpenBLAS (...)       OpenBLAS's own detection, with the reason
//	                                 dream left it alone or the setting it did not apply
//
// A setting counts only when the library reports the core type it
// names: a library built for one CPU ignores the variable. Both are
// empty for a library that does not report its core type (a BLAS other
// than OpenBLAS).
func (l *Library) CoreType() (name, how string) { return l.coreType, l.coreHow }

// SetThreads sets the number of threads of an OpenBLAS library (n ≥ 1);
// other libraries ignore it.
func (l *Library) SetThreads(n int) {
	if l.setThreads == 0 || n < 1 {
		return
	}
	call(l.setThreads, &[15]uintptr{uintptr(n)})
}

// Implementation returns the library's BLAS: gonum's, with Sgemm, Dgemm,
// Sgemv and Dgemv replaced by the library's.
func (l *Library) Implementation() Implementation { return Implementation{lib: l} }
