//go:build (linux || darwin || freebsd) && amd64

package fastblas

import (
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

// open loads the shared library name and looks up its routines.
func open(name string) (*Library, error) {
	h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	lib := &Library{path: name}
	for _, s := range []struct {
		sym string
		fn  *uintptr
	}{{"sgemm_", &lib.sgemm}, {"dgemm_", &lib.dgemm}, {"sgemv_", &lib.sgemv}, {"dgemv_", &lib.dgemv}} {
		addr, err := purego.Dlsym(h, s.sym)
		if err != nil {
			return nil, fmt.Errorf("no %s: %w", s.sym, err)
		}
		*s.fn = addr
	}
	if addr, err := purego.Dlsym(h, "openblas_set_num_threads"); err == nil {
		lib.setThreads = addr
	}
	if addr, err := purego.Dlsym(h, "openblas_get_config"); err == nil {
		var config func() string
		purego.RegisterFunc(&config, addr)
		lib.version = strings.TrimSpace(config())
	}
	if addr, err := purego.Dlsym(h, "openblas_get_corename"); err == nil {
		var corename func() string
		purego.RegisterFunc(&corename, addr)
		lib.coreType = strings.TrimSpace(corename())
	}
	return lib, nil
}
