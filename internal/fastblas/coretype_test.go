package fastblas

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestChooseCoreType(t *testing.T) {
	var (
		sse        = CPUFeatures{Vendor: "GenuineIntel", Family: 6}
		sandy      = CPUFeatures{Vendor: "GenuineIntel", Family: 6, AVX: true}
		avx2NoFMA  = CPUFeatures{Vendor: "GenuineIntel", Family: 6, AVX: true, AVX2: true}
		haswell    = CPUFeatures{Vendor: "GenuineIntel", Family: 6, AVX: true, AVX2: true, FMA: true}
		skylakeX   = withAVX512(haswell, true, true, true, true)
		knl        = withAVX512(haswell, true, false, false, false) // Knights Landing: F and CD, no BW, DQ, VL
		onlyF      = withAVX512(haswell, false, false, false, false)
		barcelona  = CPUFeatures{Vendor: "AuthenticAMD", Family: 0x10}
		excavator  = CPUFeatures{Vendor: "AuthenticAMD", Family: 0x15, AVX: true, AVX2: true, FMA: true}
		zen1       = CPUFeatures{Vendor: "AuthenticAMD", Family: 0x17, AVX: true, AVX2: true, FMA: true}
		zen3       = CPUFeatures{Vendor: "AuthenticAMD", Family: 0x19, AVX: true, AVX2: true, FMA: true}
		zen4       = withAVX512(zen3, true, true, true, true)
		zen5       = withAVX512(CPUFeatures{Vendor: "AuthenticAMD", Family: 0x1a, AVX: true, AVX2: true, FMA: true}, true, true, true, true)
		hygon      = CPUFeatures{Vendor: "HygonGenuine", Family: 0x18, AVX: true, AVX2: true, FMA: true}
		zhaoxin    = CPUFeatures{Vendor: "  Shanghai  ", Family: 7, AVX: true, AVX2: true, FMA: true}
		zhaoxinOld = CPUFeatures{Vendor: "  Shanghai  ", Family: 7, AVX: true}
	)
	const userSet = coreTypeVar + " is set"
	for _, tc := range []struct {
		name      string
		cpu       CPUFeatures
		userValue string
		userSet   bool
		want, why string
	}{
		{"none", CPUFeatures{}, "", false, "", "no AVX2"},
		{"SSE only", sse, "", false, "", "no AVX2"},
		{"AVX without AVX2", sandy, "", false, "", "no AVX2"},
		{"AVX2 without FMA", avx2NoFMA, "", false, "", "AVX2 without FMA"},
		{"AVX2 and FMA", haswell, "", false, "Haswell", "AVX2 and FMA"},
		{"AVX-512 set", skylakeX, "", false, "SkylakeX", "AVX-512 F, CD, BW, DQ and VL"},
		{"AVX-512F and CD without BW, DQ, VL", knl, "", false, "Haswell", "AVX2 and FMA; AVX-512F without BW, DQ, VL"},
		{"AVX-512F alone", onlyF, "", false, "Haswell", "AVX2 and FMA; AVX-512F without CD, BW, DQ, VL"},
		{"AMD without AVX", barcelona, "", false, "", "no AVX2"},
		{"AMD Excavator", excavator, "", false, "", "AMD before Zen, which OpenBLAS recognises"},
		{"AMD Zen 1", zen1, "", false, "Zen", "AVX2 and FMA, Zen family"},
		{"AMD Zen 3", zen3, "", false, "Zen", "AVX2 and FMA, Zen family"},
		{"AMD Zen 4 with AVX-512", zen4, "", false, "SkylakeX", "AVX-512 F, CD, BW, DQ and VL"},
		{"AMD Zen 5 with AVX-512", zen5, "", false, "SkylakeX", "AVX-512 F, CD, BW, DQ and VL"},
		{"Hygon", hygon, "", false, "Zen", "AVX2 and FMA, Zen family"},
		{"Zhaoxin with AVX2", zhaoxin, "", false, "Zen", "AVX2 and FMA, Zhaoxin or Centaur"},
		{"Zhaoxin without AVX2", zhaoxinOld, "", false, "", "no AVX2"},
		{"user set, AVX2", haswell, "Sandybridge", true, "", userSet},
		{"user set, AVX-512", skylakeX, "Haswell", true, "", userSet},
		{"user set, AMD Zen", zen3, "Haswell", true, "", userSet},
		{"user set, no AVX2", sse, "Prescott", true, "", userSet},
		{"user set empty, AVX2", haswell, "", true, "Haswell", "AVX2 and FMA"},
		{"user set empty, AMD Zen", zen3, "", true, "Zen", "AVX2 and FMA, Zen family"},
		{"user set empty, no AVX2", sandy, "", true, "", "no AVX2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := ChooseCoreType(tc.cpu, tc.userValue, tc.userSet)
			if got != tc.want || why != tc.why {
				t.Errorf("ChooseCoreType = %q, %q; want %q, %q", got, why, tc.want, tc.why)
			}
		})
	}
}

// withAVX512 returns f with AVX-512F and the given subsets.
func withAVX512(f CPUFeatures, cd, bw, dq, vl bool) CPUFeatures {
	f.AVX512F, f.AVX512CD, f.AVX512BW, f.AVX512DQ, f.AVX512VL = true, cd, bw, dq, vl
	return f
}

func TestDescribeCore(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		active, chosen, why, env string
		envSet                   bool
		want                     string
	}{
		{"not OpenBLAS", "", "Haswell", "AVX2 and FMA", "", false, ""},
		{"chosen", "Haswell", "Haswell", "AVX2 and FMA", "", false, "chosen by dream (AVX2 and FMA)"},
		{"chosen over an empty value", "Zen", "Zen", "AVX2 and FMA, Zen family", "", true, "chosen by dream (AVX2 and FMA, Zen family)"},
		{"chosen, ignored", "Sandybridge", "Haswell", "AVX2 and FMA", "", false, "detected by OpenBLAS (OPENBLAS_CORETYPE=Haswell not applied)"},
		{"user set", "Haswell", "", coreTypeVar + " is set", "haswell", true, "set by OPENBLAS_CORETYPE"},
		{"user set, ignored", "Zen", "", coreTypeVar + " is set", "Nonesuch", true, "detected by OpenBLAS (OPENBLAS_CORETYPE=Nonesuch not applied)"},
		{"left to OpenBLAS", "Sandybridge", "", "no AVX2", "", false, "detected by OpenBLAS (no AVX2)"},
		{"loaded by LoadFrom", "Zen", "", "", "", false, "detected by OpenBLAS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeCore(tc.active, tc.chosen, tc.why, tc.env, tc.envSet); got != tc.want {
				t.Errorf("describeCore = %q, want %q", got, tc.want)
			}
		})
	}
}

// childCoreTypeVar names the core type TestCoreTypesMatchGonum checks in
// a child process.
const childCoreTypeVar = "FASTBLAS_TEST_CORETYPE"

// Every core type this CPU may be given computes gonum's products: the
// one ChooseCoreType picks for it, and Haswell wherever that is not
// Prescott's fallback (SkylakeX is ChooseCoreType's pick exactly when the
// CPU has AVX-512's full set). OpenBLAS reads OPENBLAS_CORETYPE once,
// when it is loaded, so each core type runs in a child process: the test
// binary run again with the variable set.
func TestCoreTypesMatchGonum(t *testing.T) {
	if want := os.Getenv(childCoreTypeVar); want != "" {
		lib := mustLoad(t)
		if name, how := lib.CoreType(); !strings.EqualFold(name, want) || how != "set by "+coreTypeVar {
			t.Fatalf("core type %s, %s; want %s, set by %s", name, how, want, coreTypeVar)
		}
		t.Run("sgemm", func(t *testing.T) { testSgemm(t, lib.Implementation()) })
		t.Run("dgemm", func(t *testing.T) { testDgemm(t, lib.Implementation()) })
		return
	}
	if testing.Short() {
		t.Skip("starts a process per core type")
	}
	chosen, why := ChooseCoreType(HostCPU(), "", false)
	if chosen == "" {
		t.Skipf("dream chooses no core type for this CPU (%s)", why)
	}
	types := []string{chosen}
	if chosen != coreHaswell {
		types = append(types, coreHaswell)
	}
	for _, ct := range types {
		t.Run(ct, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCoreTypesMatchGonum$", "-test.v", "-test.count=1")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, coreTypeVar+"=") && !strings.HasPrefix(kv, childCoreTypeVar+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, coreTypeVar+"="+ct, childCoreTypeVar+"="+ct)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestCoreTypesMatchGonum") {
				t.Fatalf("child with %s=%s: %v\n%s", coreTypeVar, ct, err, tail(string(out), 4000))
			}
		})
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
