//go:build linux || darwin || freebsd

package fastblas

import "unsafe"

// runtimeCgocall runs the C-ABI function fn(arg) on the system stack.
// The goroutine's stack cannot move while the call runs (the callee never
// calls back into Go), so arg may point into it.
//
//go:linkname runtimeCgocall runtime.cgocall
//go:noescape
func runtimeCgocall(fn uintptr, arg unsafe.Pointer) int32

// call15ABI0 is the address of the trampoline call15 (call_amd64.s),
// which loads a callBlock into the System V argument registers and stack
// and calls its function. It is set by the assembler.
var call15ABI0 uintptr

// callBlock is a function address and 15 integer or pointer arguments.
type callBlock struct {
	fn   uintptr
	args [15]uintptr
}

// call calls the C function fn with the given integer or pointer
// arguments (unused ones zero) and allocates nothing: the block lives on
// the goroutine's stack. The caller keeps whatever the arguments point
// to alive across the call (runtime.KeepAlive). The arguments may point
// into the caller's stack: call and runtime·cgocall are nosplit, so the
// stack cannot grow (and move) between the caller taking the addresses
// and the C function returning.
//
//go:nosplit
func call(fn uintptr, args *[15]uintptr) {
	b := callBlock{fn: fn, args: *args}
	runtimeCgocall(call15ABI0, unsafe.Pointer(&b))
}
