//go:build !openblas

package worldmodel

// UseFastBLAS leaves gonum's pure-Go BLAS in place and returns its name;
// builds with the openblas tag (cgo, CGO_LDFLAGS=-lopenblas) switch to
// OpenBLAS instead.
func UseFastBLAS() string { return "gonum (pure Go)" }
