//go:build (linux || darwin || freebsd) && arm64

package fastblas

import "github.com/ebitengine/purego"

// call calls the C function fn with the given integer or pointer
// arguments through purego, which allocates a little per call on this
// architecture. The caller keeps whatever the arguments point to alive
// across the call (runtime.KeepAlive).
func call(fn uintptr, args *[15]uintptr) {
	purego.SyscallN(fn, args[:]...)
}
