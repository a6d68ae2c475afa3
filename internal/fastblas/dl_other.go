//go:build !((linux || darwin || freebsd) && amd64)

package fastblas

import (
	"errors"
	"runtime"
)

// open fails: run-time loading needs purego's dlopen (linux, darwin or
// freebsd) and this package's call trampoline (amd64).
func open(string) (*Library, error) {
	return nil, errors.New("run-time loading is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}

// call is never reached: no Library can be loaded here.
func call(uintptr, *[15]uintptr) {
	panic("fastblas: no BLAS library on " + runtime.GOOS + "/" + runtime.GOARCH)
}
