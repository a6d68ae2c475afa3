//go:build linux

package gym

import "syscall"

// sysProcAttr makes the kernel kill the child when dream dies, even by
// SIGKILL. Pdeathsig fires when the thread that started the child exits;
// Go exits a thread only when a goroutine locked to it ends, and the
// child is started from an unlocked goroutine, so in dream it fires when
// the process does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
