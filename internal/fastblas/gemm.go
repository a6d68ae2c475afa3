package fastblas

import (
	"runtime"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is gonum's BLAS with the general products of a loaded
// library: Sgemm, Dgemm, Sgemv and Dgemv run in the library, every other
// routine in gonum. Arguments that gonum rejects (a bad transpose, a short
// slice, a small leading dimension) panic with gonum's message, and calls
// that do no multiplication (a zero dimension, alpha 0) are left to gonum.
// It satisfies gonum's blas.Float32, Float64, Complex64 and Complex128,
// so it serves blas32.Use, blas64.Use and gorgonia's Use alike.
type Implementation struct {
	gonum.Implementation
	lib *Library
}

// Compile-time checks that it satisfies gonum's interfaces.
var (
	_ blas.Float32    = Implementation{}
	_ blas.Float64    = Implementation{}
	_ blas.Complex64  = Implementation{}
	_ blas.Complex128 = Implementation{}
)

// fortranInt is the Fortran INTEGER of the LP64 interface that
// distributions ship (32 bits).
type fortranInt = int32

// maxFortranInt bounds every dimension and stride passed to the library.
const maxFortranInt = 1<<31 - 1

// fortranCharLen is the hidden length of a CHARACTER*1 argument that
// gfortran-compiled libraries (reference BLAS) take after the others;
// OpenBLAS ignores it.
const fortranCharLen = 1

// scalars holds the by-reference scalar arguments of one call. It lives
// on the caller's stack, which cannot move during the call.
type scalars[T float32 | float64] struct {
	transA, transB                     byte
	m, n, k, lda, ldb, ldc, incx, incy fortranInt
	alpha, beta                        T
}

func addr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// trans is the Fortran flag of a gonum transpose.
func trans(t blas.Transpose) byte {
	if t == blas.NoTrans {
		return 'N'
	}
	return 'T'
}

// flip is the Fortran transpose flag of the column-major view Aᵀ of a
// row-major matrix A.
func flip(t blas.Transpose) byte {
	if t == blas.NoTrans {
		return 'T'
	}
	return 'N'
}

func fits(vals ...int) bool {
	for _, v := range vals {
		if v > maxFortranInt {
			return false
		}
	}
	return true
}

func okTrans(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}

// gemmOK reports whether a gemm call is one gonum accepts and that does a
// multiplication: only then is the library called, otherwise gonum
// panics or returns early as it would.
func gemmOK(tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int, alphaZero bool) bool {
	if !okTrans(tA) || !okTrans(tB) || m <= 0 || n <= 0 || k <= 0 || alphaZero {
		return false
	}
	aRows, aCols := m, k
	if tA != blas.NoTrans {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if tB != blas.NoTrans {
		bRows, bCols = n, k
	}
	return lda >= aCols && ldb >= bCols && ldc >= n &&
		lenA >= (aRows-1)*lda+aCols && lenB >= (bRows-1)*ldb+bCols && lenC >= (m-1)*ldc+n &&
		fits(m, n, k, lda, ldb, ldc)
}

// gemvOK is gemmOK for gemv.
func gemvOK(tA blas.Transpose, m, n, lenA, lda, lenX, incX, lenY, incY int, alphaZero bool) bool {
	if !okTrans(tA) || m <= 0 || n <= 0 || alphaZero || incX == 0 || incY == 0 {
		return false
	}
	nx, ny := n, m
	if tA != blas.NoTrans {
		nx, ny = m, n
	}
	ix, iy := max(incX, -incX), max(incY, -incY)
	return lda >= n && lenA >= lda*(m-1)+n && (nx-1)*ix < lenX && (ny-1)*iy < lenY &&
		fits(m, n, lda, ix, iy)
}

// gemm calls the library's sgemm_ or dgemm_ (fn) for row-major C =
// alpha·op(A)·op(B) + beta·C. Row-major C is column-major Cᵀ, so the
// library computes Cᵀ = alpha·op(B)ᵀ·op(A)ᵀ + beta·Cᵀ.
func gemm[T float32 | float64](fn uintptr, tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	s := scalars[T]{
		transA: trans(tA), transB: trans(tB),
		m: fortranInt(m), n: fortranInt(n), k: fortranInt(k),
		lda: fortranInt(lda), ldb: fortranInt(ldb), ldc: fortranInt(ldc),
		alpha: alpha, beta: beta,
	}
	call(fn, &[15]uintptr{
		addr(&s.transB), addr(&s.transA), addr(&s.n), addr(&s.m), addr(&s.k),
		addr(&s.alpha), addr(&b[0]), addr(&s.ldb), addr(&a[0]), addr(&s.lda),
		addr(&s.beta), addr(&c[0]), addr(&s.ldc),
		fortranCharLen, fortranCharLen,
	})
	runtime.KeepAlive(&s)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// gemv calls the library's sgemv_ or dgemv_ (fn) for row-major y =
// alpha·op(A)·x + beta·y: the library sees the column-major Aᵀ (n×m)
// with the transpose flipped.
func gemv[T float32 | float64](fn uintptr, tA blas.Transpose, m, n int, alpha T, a []T, lda int, x []T, incX int, beta T, y []T, incY int) {
	s := scalars[T]{
		transA: flip(tA),
		m:      fortranInt(n), n: fortranInt(m), lda: fortranInt(lda),
		incx: fortranInt(incX), incy: fortranInt(incY),
		alpha: alpha, beta: beta,
	}
	call(fn, &[15]uintptr{
		addr(&s.transA), addr(&s.m), addr(&s.n), addr(&s.alpha), addr(&a[0]), addr(&s.lda),
		addr(&x[0]), addr(&s.incx), addr(&s.beta), addr(&y[0]), addr(&s.incy),
		fortranCharLen,
	})
	runtime.KeepAlive(&s)
	runtime.KeepAlive(a)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// as gonum's Sgemm does, in the library.
func (f Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !gemmOK(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc, alpha == 0) {
		f.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemm(f.lib.sgemm, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv computes y = alpha·op(A)·x + beta·y for row-major A, as gonum's
// Sgemv does, in the library.
func (f Implementation) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if !gemvOK(tA, m, n, len(a), lda, len(x), incX, len(y), incY, alpha == 0) {
		f.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	gemv(f.lib.sgemv, tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Dgemm is Sgemm for float64.
func (f Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !gemmOK(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc, alpha == 0) {
		f.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemm(f.lib.dgemm, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemv is Sgemv for float64.
func (f Implementation) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	if !gemvOK(tA, m, n, len(a), lda, len(x), incX, len(y), incY, alpha == 0) {
		f.Implementation.Dgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	gemv(f.lib.dgemv, tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}
