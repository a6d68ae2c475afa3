package fastblas

// cpuid executes the CPUID instruction for leaf eaxArg and subleaf ecxArg
// (cpuid_amd64.s).
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// cpuVendorFamily returns CPUID's vendor string (leaf 0: EBX, EDX, ECX)
// and display family (leaf 1: base family in EAX bits 8–11, plus the
// extended family in bits 20–27 when the base family is 0xf).
func cpuVendorFamily() (vendor string, family int) {
	_, b, c, d := cpuid(0, 0)
	v := make([]byte, 0, 12)
	for _, r := range []uint32{b, d, c} {
		v = append(v, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	a, _, _, _ := cpuid(1, 0)
	family = int(a>>8) & 0xf
	if family == 0xf {
		family += int(a>>20) & 0xff
	}
	return string(v), family
}
