package fastblas

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// mustLoad loads the system's BLAS. The tests need it: libopenblas-dev
// (make deps) provides it.
func mustLoad(t testing.TB) *Library {
	t.Helper()
	lib, err := Load()
	if err != nil {
		t.Fatalf("%v: install OpenBLAS (make deps) to test the run-time BLAS", err)
	}
	return lib
}

// threads is the number of threads of this process (Linux).
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no thread count in /proc/self/status")
	return 0
}

// Loading OpenBLAS starts no worker threads, and leaves the environment
// as it was. It is the first test of the package that loads the
// library (coretype_test.go's tests load it only in child processes), so
// that it sees the library loaded for the first time.
func TestLoadStartsNoThreads(t *testing.T) {
	for _, name := range []string{numThreadsVar, coreTypeVar} {
		if _, set := os.LookupEnv(name); set {
			t.Fatalf("%s is set in the test's environment; unset it to run this test", name)
		}
	}
	// The Go runtime may start a thread of its own while the loader's C
	// calls block (it hands the processor to another thread); those are
	// counted by the threadcreate profile, OpenBLAS's workers are not.
	foreign := func() (int, int) {
		n, goMade := threads(t), pprof.Lookup("threadcreate").Count()
		return n - goMade, n
	}
	before, osBefore := foreign()
	mustLoad(t)
	if after, osAfter := foreign(); after > before {
		t.Errorf("%d threads not started by Go after loading, %d before (%d and %d threads in all)", after, before, osAfter, osBefore)
	}
	for _, name := range []string{numThreadsVar, coreTypeVar} {
		if v, set := os.LookupEnv(name); set {
			t.Errorf("%s=%q left in the environment", name, v)
		}
	}
}

// The loaded library reports the core type Load chose for this CPU.
func TestCoreType(t *testing.T) {
	if v, set := os.LookupEnv(coreTypeVar); set {
		t.Skipf("%s=%q is set in the test's environment", coreTypeVar, v)
	}
	name, how := mustLoad(t).CoreType()
	if name == "" {
		t.Skip("the library does not report its core type (not OpenBLAS)")
	}
	t.Logf("core type %s, %s", name, how)
	want, why := ChooseCoreType(HostCPU(), "", false)
	switch {
	case want != "" && (!strings.EqualFold(name, want) || how != "chosen by dream ("+why+")"):
		t.Errorf("core type %s, %s; want %s, chosen by dream (%s)", name, how, want, why)
	case want == "" && !strings.HasPrefix(how, "detected by OpenBLAS"):
		t.Errorf("core type %s, %s; want it detected by OpenBLAS (%s)", name, how, why)
	}
}

// An empty OPENBLAS_CORETYPE counts as unset, and Load leaves it empty.
func TestLoadRestoresEmptyCoreType(t *testing.T) {
	t.Setenv(coreTypeVar, "")
	name, how := mustLoad(t).CoreType()
	if v, set := os.LookupEnv(coreTypeVar); !set || v != "" {
		t.Errorf("%s=%q (set %v) after Load, want it set and empty", coreTypeVar, v, set)
	}
	if want, why := ChooseCoreType(HostCPU(), "", true); want != "" && how != "chosen by dream ("+why+")" {
		t.Errorf("core type %s, %s; want %s, chosen by dream (%s)", name, how, want, why)
	}
}

func randSlice[T float32 | float64](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(2*rng.Float64() - 1)
	}
	return s
}

// maxRelErr is max |got − want| / (1 + |want|).
func maxRelErr[T float32 | float64](got, want []T) float64 {
	e := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]-want[i])) / (1 + math.Abs(float64(want[i])))
		if d > e || math.IsNaN(d) {
			e = d
		}
	}
	return e
}

type gemmCase struct {
	name       string
	tA, tB     blas.Transpose
	m, n, k    int
	pad        int // extra columns in every leading dimension
	alpha, bet float64
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	trans := []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 128, 32}, {130, 70, 257}}
	for _, tA := range trans {
		for _, tB := range trans {
			for _, s := range sizes {
				for _, pad := range []int{0, 3} {
					cs = append(cs, gemmCase{
						name: fmt.Sprintf("%c%c/%dx%dx%d/pad%d", tA, tB, s[0], s[1], s[2], pad),
						tA:   tA, tB: tB, m: s[0], n: s[1], k: s[2], pad: pad, alpha: 0.7, bet: -0.3,
					})
				}
			}
		}
	}
	return cs
}

// operands returns A, B and C for case c with their leading dimensions.
func operands[T float32 | float64](rng *rand.Rand, c gemmCase) (a []T, lda int, b []T, ldb int, cc []T, ldc int) {
	aRows, aCols := c.m, c.k
	if c.tA != blas.NoTrans {
		aRows, aCols = c.k, c.m
	}
	bRows, bCols := c.k, c.n
	if c.tB != blas.NoTrans {
		bRows, bCols = c.n, c.k
	}
	lda, ldb, ldc = aCols+c.pad, bCols+c.pad, c.n+c.pad
	return randSlice[T](rng, aRows*lda), lda, randSlice[T](rng, bRows*ldb), ldb, randSlice[T](rng, c.m*ldc), ldc
}

func TestSgemmMatchesGonum(t *testing.T) { testSgemm(t, mustLoad(t).Implementation()) }

func TestDgemmMatchesGonum(t *testing.T) { testDgemm(t, mustLoad(t).Implementation()) }

// testSgemm compares impl's Sgemm with gonum's on gemmCases.
func testSgemm(t *testing.T, impl Implementation) {
	rng := rand.New(rand.NewPCG(1, 2))
	const tol = 1e-5
	for _, c := range gemmCases() {
		t.Run(c.name, func(t *testing.T) {
			a, lda, b, ldb, want, ldc := operands[float32](rng, c)
			got := append([]float32(nil), want...)
			gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.bet), want, ldc)
			impl.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.bet), got, ldc)
			if e := maxRelErr(got, want); e > tol {
				t.Errorf("max relative error %g > %g", e, tol)
			}
		})
	}
}

// testDgemm compares impl's Dgemm with gonum's on gemmCases.
func testDgemm(t *testing.T, impl Implementation) {
	rng := rand.New(rand.NewPCG(3, 4))
	const tol = 1e-12
	for _, c := range gemmCases() {
		t.Run(c.name, func(t *testing.T) {
			a, lda, b, ldb, want, ldc := operands[float64](rng, c)
			got := append([]float64(nil), want...)
			gonum.Implementation{}.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.bet, want, ldc)
			impl.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.bet, got, ldc)
			if e := maxRelErr(got, want); e > tol {
				t.Errorf("max relative error %g > %g", e, tol)
			}
		})
	}
}

// The padding of C must be left alone: the library writes only m×n.
func TestSgemmLeavesPaddingAlone(t *testing.T) {
	impl := mustLoad(t).Implementation()
	const m, n, k, ldc = 4, 5, 6, 9
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randSlice[float32](rng, m*k), randSlice[float32](rng, k*n)
	c := make([]float32, m*ldc)
	for i := range c {
		c[i] = 42
	}
	impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, ldc)
	for i := 0; i < m; i++ {
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			if c[i*ldc+j] != 42 {
				t.Fatalf("c[%d][%d] = %g, padding changed", i, j, c[i*ldc+j])
			}
		}
	}
}

func TestGemvMatchesGonum(t *testing.T) {
	lib := mustLoad(t)
	f32, f64 := lib.Implementation(), lib.Implementation()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, inc := range [][2]int{{1, 1}, {2, 3}, {-1, 1}, {1, -2}} {
			for _, s := range [][2]int{{1, 1}, {5, 3}, {40, 65}} {
				m, n, lda := s[0], s[1], s[1]+2
				nx, ny := n, m
				if tA != blas.NoTrans {
					nx, ny = m, n
				}
				abs := func(v int) int { return max(v, -v) }
				name := fmt.Sprintf("%c/%dx%d/inc%d,%d", tA, m, n, inc[0], inc[1])
				t.Run("float32/"+name, func(t *testing.T) {
					a := randSlice[float32](rng, m*lda)
					x := randSlice[float32](rng, (nx-1)*abs(inc[0])+1)
					want := randSlice[float32](rng, (ny-1)*abs(inc[1])+1)
					got := append([]float32(nil), want...)
					gonum.Implementation{}.Sgemv(tA, m, n, 0.5, a, lda, x, inc[0], 2, want, inc[1])
					f32.Sgemv(tA, m, n, 0.5, a, lda, x, inc[0], 2, got, inc[1])
					if e := maxRelErr(got, want); e > 1e-5 {
						t.Errorf("max relative error %g > 1e-5", e)
					}
				})
				t.Run("float64/"+name, func(t *testing.T) {
					a := randSlice[float64](rng, m*lda)
					x := randSlice[float64](rng, (nx-1)*abs(inc[0])+1)
					want := randSlice[float64](rng, (ny-1)*abs(inc[1])+1)
					got := append([]float64(nil), want...)
					gonum.Implementation{}.Dgemv(tA, m, n, 0.5, a, lda, x, inc[0], 2, want, inc[1])
					f64.Dgemv(tA, m, n, 0.5, a, lda, x, inc[0], 2, got, inc[1])
					if e := maxRelErr(got, want); e > 1e-12 {
						t.Errorf("max relative error %g > 1e-12", e)
					}
				})
			}
		}
	}
}

// Calls that gonum rejects panic with gonum's message; calls that do no
// multiplication behave as gonum's.
func TestGonumSemanticsAtTheEdges(t *testing.T) {
	impl := mustLoad(t).Implementation()
	panics := func(f func()) (msg any) {
		defer func() { msg = recover() }()
		f()
		return nil
	}
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	for _, tc := range []struct {
		name string
		f    func(blas.Float32)
	}{
		{"short a", func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 4, 1, a, 4, b, 2, 0, c, 2) }},
		{"bad lda", func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) }},
		{"bad transpose", func(i blas.Float32) { i.Sgemm('x', blas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
		{"negative m", func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
		{"zero incx", func(i blas.Float32) { i.Sgemv(blas.NoTrans, 2, 3, 1, a, 3, b, 0, 0, c, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := panics(func() { tc.f(gonum.Implementation{}) })
			got := panics(func() { tc.f(impl) })
			if want == nil || got != want {
				t.Errorf("panic %v, gonum panics with %v", got, want)
			}
		})
	}
	t.Run("k=0 scales c by beta", func(t *testing.T) {
		c := []float32{1, 2, 3, 4}
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 0, 1, make([]float32, 2), 1, nil, 2, 2, c, 2)
		for i, v := range []float32{2, 4, 6, 8} {
			if c[i] != v {
				t.Fatalf("c = %v, want [2 4 6 8]", c)
			}
		}
	})
}

func TestCallsAllocateNothing(t *testing.T) {
	lib := mustLoad(t)
	f32, f64 := lib.Implementation(), lib.Implementation()
	rng := rand.New(rand.NewPCG(9, 10))
	a, b, c := randSlice[float32](rng, 64*64), randSlice[float32](rng, 64*64), make([]float32, 64*64)
	da, db, dc := randSlice[float64](rng, 64*64), randSlice[float64](rng, 64*64), make([]float64, 64*64)
	var s32 blas.Float32 = f32 // called through the interface, as gonum's blas32 does
	var s64 blas.Float64 = f64
	allocs := testing.AllocsPerRun(100, func() {
		s32.Sgemm(blas.NoTrans, blas.Trans, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64)
		s32.Sgemv(blas.NoTrans, 64, 64, 1, a, 64, b, 1, 0, c, 1)
		s64.Dgemm(blas.Trans, blas.NoTrans, 64, 64, 64, 1, da, 64, db, 64, 0, dc, 64)
		s64.Dgemv(blas.Trans, 64, 64, 1, da, 64, db, 1, 0, dc, 1)
	})
	if allocs != 0 {
		t.Errorf("%g allocations per run, want 0", allocs)
	}
}

// Concurrent products on separate outputs give the serial results (run
// with -race).
func TestConcurrentCalls(t *testing.T) {
	impl := mustLoad(t).Implementation()
	const n, workers = 48, 4
	rng := rand.New(rand.NewPCG(11, 12))
	a, b := randSlice[float32](rng, n*n), randSlice[float32](rng, n*n)
	want := make([]float32, n*n)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, a, n, b, n, 0, want, n)
	outs := make([][]float32, workers)
	var wg sync.WaitGroup
	for w := range outs {
		outs[w] = make([]float32, n*n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, a, n, b, n, 0, outs[w], n)
			}
		}()
	}
	wg.Wait()
	for w, got := range outs {
		if e := maxRelErr(got, want); e > 1e-5 {
			t.Errorf("worker %d: max relative error %g", w, e)
		}
	}
}

func TestLoadFromMissingLibrary(t *testing.T) {
	_, err := LoadFrom("libdream-no-such-blas.so.0")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestName(t *testing.T) {
	lib := mustLoad(t)
	if lib.Name() == "" {
		t.Fatal("empty name")
	}
	t.Logf("loaded %s", lib.Name())
}

// Operands on the goroutine's stack, at depths that make the stack grow
// between calls, give gonum's results: the addresses handed to the
// library stay valid for the whole call.
func TestStackOperands(t *testing.T) {
	impl := mustLoad(t).Implementation()
	var recurse func(depth int) error
	recurse = func(depth int) error {
		var a, c, want [12]float32 // 3×4
		var b [16]float32          // 4×4
		for i := range a {
			a[i] = float32(i + depth)
		}
		for i := range b {
			b[i] = float32(2*i - depth)
		}
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 3, 4, 4, 1, a[:], 4, b[:], 4, 0, want[:], 4)
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 3, 4, 4, 1, a[:], 4, b[:], 4, 0, c[:], 4)
		if c != want {
			return fmt.Errorf("depth %d: got %v, want %v", depth, c, want)
		}
		if depth == 0 {
			return nil
		}
		var pad [256]byte // grows the stack on the way down
		pad[depth%len(pad)] = 1
		if err := recurse(depth - 1); err != nil {
			return err
		}
		return nil
	}
	if err := recurse(200); err != nil {
		t.Fatal(err)
	}
}
