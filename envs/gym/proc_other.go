//go:build !linux

package gym

import "syscall"

// sysProcAttr is nil where there is no Pdeathsig: the child still exits
// when dream dies, because its input pipe then ends.
func sysProcAttr() *syscall.SysProcAttr { return nil }
