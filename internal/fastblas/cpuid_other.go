//go:build !amd64

package fastblas

// cpuVendorFamily reports no vendor and family: OpenBLAS's core types
// named by ChooseCoreType are x86-64's.
func cpuVendorFamily() (vendor string, family int) { return "", 0 }
