package fastblas

import (
	"strings"

	"golang.org/x/sys/cpu"
)

// coreTypeVar is the environment variable a DYNAMIC_ARCH build of
// OpenBLAS reads, when it is loaded, to pick its kernels (its "core
// type") instead of detecting the CPU.
const coreTypeVar = "OPENBLAS_CORETYPE"

// CPUFeatures is what ChooseCoreType needs to know about a CPU: its
// vendor and family, as CPUID reports them, and whether it has the
// instruction-set extensions OpenBLAS's x86-64 kernels use, each usable
// only when the operating system also saves the registers they need.
type CPUFeatures struct {
	// Vendor is CPUID's vendor string ("GenuineIntel", "AuthenticAMD",
	// "HygonGenuine", ...), empty off x86-64.
	Vendor string
	// Family is the display family: the base family plus, for base
	// family 0xf, the extended family (0x17 and up for AMD's Zen).
	Family int

	AVX, AVX2, FMA bool
	// AVX512F is AVX-512's foundation; SkylakeX's kernels also use the
	// subsets CD, BW, DQ and VL.
	AVX512F, AVX512CD, AVX512BW, AVX512DQ, AVX512VL bool
}

// HostCPU returns the features of the CPU this program runs on, from
// golang.org/x/sys/cpu (which checks that the operating system supports
// AVX and AVX-512) and CPUID for the vendor and family.
func HostCPU() CPUFeatures {
	vendor, family := cpuVendorFamily()
	x := cpu.X86
	return CPUFeatures{
		Vendor: vendor, Family: family,
		AVX: x.HasAVX, AVX2: x.HasAVX2, FMA: x.HasFMA,
		AVX512F: x.HasAVX512F, AVX512CD: x.HasAVX512CD, AVX512BW: x.HasAVX512BW,
		AVX512DQ: x.HasAVX512DQ, AVX512VL: x.HasAVX512VL,
	}
}

// Core types ChooseCoreType names, spelt as OpenBLAS's
// openblas_get_corename reports them.
const (
	coreHaswell  = "Haswell"
	coreZen      = "Zen"
	coreSkylakeX = "SkylakeX"
)

// familyZen is the first display family of AMD's Zen cores (17h; Hygon's
// Zen-based Dhyana is 18h, Zen 3 and 4 are 19h, Zen 5 is 1Ah).
const familyZen = 0x17

// ChooseCoreType returns the core type Load sets OPENBLAS_CORETYPE to
// before it loads OpenBLAS, or "" to leave the choice to OpenBLAS, and
// why. userValue and userSet are the variable's value and whether it is
// set in the environment; a set, non-empty value is the user's choice
// and is left alone. An empty value counts as unset: it names no core
// type, and OpenBLAS, finding none by that name, falls back as for a CPU
// it does not know.
//
// DYNAMIC_ARCH builds of OpenBLAS pick their kernels from the CPU's
// family and model, and some releases take a model they do not know for
// the oldest x86-64 core, Prescott (SSE3), and run at half speed or
// worse: releases before 0.3.25 on newer Intel family-6 models (a
// fall-through in the model switch), releases before 0.3.19 on any CPU
// they do not know. On a CPU with AVX2 and FMA, ChooseCoreType therefore
// names the core type that OpenBLAS's own detection gives a CPU it
// recognises with the same features, so that setting it changes nothing
// where the detection works and replaces Prescott where it does not:
//
//   - SkylakeX with AVX-512 F, CD, BW, DQ and VL, whatever the vendor
//     (OpenBLAS runs AMD's Zen 4 on SkylakeX kernels too; on CPUs with
//     AVX-512 BF16 it picks Cooperlake, which adds bfloat16 kernels this
//     package does not call, and which releases before 0.3.22 cannot be
//     told to use);
//   - Zen on AMD and Hygon CPUs of the Zen family, and on Zhaoxin's and
//     Centaur's with AVX2, as OpenBLAS does;
//   - Haswell on every other CPU with AVX2 and FMA;
//   - nothing on AMD's Excavator (family 15h, the one AMD core before Zen
//     with AVX2), whose own core type OpenBLAS knows, nor on a CPU
//     without AVX2 and FMA: Haswell's kernels need both, and OpenBLAS's
//     choices below them are not worth second-guessing.
func ChooseCoreType(f CPUFeatures, userValue string, userSet bool) (coreType, reason string) {
	if userSet && userValue != "" {
		return "", coreTypeVar + " is set"
	}
	switch {
	case !f.AVX || !f.AVX2:
		return "", "no AVX2"
	case !f.FMA:
		return "", "AVX2 without FMA"
	}
	var missing []string
	for _, s := range []struct {
		name string
		has  bool
	}{{"CD", f.AVX512CD}, {"BW", f.AVX512BW}, {"DQ", f.AVX512DQ}, {"VL", f.AVX512VL}} {
		if !s.has {
			missing = append(missing, s.name)
		}
	}
	if f.AVX512F && len(missing) == 0 {
		return coreSkylakeX, "AVX-512 F, CD, BW, DQ and VL"
	}
	partial := ""
	if f.AVX512F {
		partial = "; AVX-512F without " + strings.Join(missing, ", ")
	}
	switch f.Vendor {
	case "AuthenticAMD", "HygonGenuine":
		if f.Family < familyZen {
			return "", "AMD before Zen, which OpenBLAS recognises"
		}
		return coreZen, "AVX2 and FMA, Zen family" + partial
	case "CentaurHauls", "  Shanghai  ":
		return coreZen, "AVX2 and FMA, Zhaoxin or Centaur" + partial
	}
	return coreHaswell, "AVX2 and FMA" + partial
}

// describeCore says how the core type active (as openblas_get_corename
// reports it; "" for a library that does not) came to be in use, given
// what ChooseCoreType returned before the library was loaded (chosen and
// why) and the user's OPENBLAS_CORETYPE. It trusts a setting only when
// the library reports the core type it names: a library built for one
// CPU, or one already loaded, ignores the variable.
func describeCore(active, chosen, why, userValue string, userSet bool) string {
	switch {
	case active == "":
		return ""
	case chosen != "" && strings.EqualFold(active, chosen):
		return "chosen by dream (" + why + ")"
	case chosen != "":
		return "detected by OpenBLAS (" + coreTypeVar + "=" + chosen + " not applied)"
	case userSet && userValue != "" && strings.EqualFold(active, userValue):
		return "set by " + coreTypeVar
	case userSet && userValue != "":
		return "detected by OpenBLAS (" + coreTypeVar + "=" + userValue + " not applied)"
	case why != "":
		return "detected by OpenBLAS (" + why + ")"
	}
	return "detected by OpenBLAS"
}
