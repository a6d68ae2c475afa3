package worldmodel

import "math"

// exp32 is e^x in float32 arithmetic, within 2 ulp of the rounded e^x on
// [−87, 88] (outside it x is clamped there: e^−87 ≈ 1.6e−38, e^88 ≈
// 1.7e38). It reduces x = k·ln2 + f with |f| ≤ ln2/2 (Cody and Waite: ln2
// in two parts, so k·ln2 is exact), takes e^f from Cephes' expf
// polynomial (S. Moshier, Cephes Math Library) and scales by 2^k through
// the exponent bits. It has no branches that depend on the data but the
// clamps, so a loop of them runs several at once; math.Exp in float64 is
// about half as fast.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341 // 1/ln 2
		ln2Hi = 0.693359375         // ln 2 = ln2Hi + ln2Lo; ln2Hi has 9 bits
		ln2Lo = -2.12194440e-4
		round = 12582912 // 1.5·2²³: adding it rounds a float32 to an integer
		maxX  = 88
		minX  = -87
	)
	if x > maxX {
		x = maxX
	}
	if x < minX {
		x = minX
	}
	t := x*log2e + round
	k := t - round // the integer nearest x/ln 2
	n := int32(math.Float32bits(t) - math.Float32bits(round))
	f := x - k*ln2Hi - k*ln2Lo
	p := ((((1.9875691500e-4*f+1.3981999507e-3)*f+8.3334519073e-3)*f+4.1665795894e-2)*f+1.6666665459e-1)*f + 5.0000001201e-1
	y := p*(f*f) + f + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// log32 is ln x in float32 arithmetic for finite x > 0, within 2 ulp of
// the rounded ln x. It splits x = 2^e·m with m in [√½, √2) through the
// exponent bits and takes ln m from Cephes' logf polynomial in m − 1 (S.
// Moshier, Cephes Math Library), adding e·ln 2 in two parts. It has no
// branch that depends on the data, so a loop of them runs several at
// once; math.Log in float64 is about half as fast. Zero, negative,
// subnormal and infinite x give meaningless results: callers pass
// positive sums bounded away from zero.
func log32(x float32) float32 {
	const (
		ln2Hi = 0.693359375 // ln 2 = ln2Hi + ln2Lo
		ln2Lo = -2.12194440e-4
	)
	bits := math.Float32bits(x)
	// Shift the mantissa range from [1, 2) to [√½, √2): adding this to
	// the bits carries into the exponent exactly when m ≥ √2.
	const shift = 0x3f800000 - 0x3f3504f3 // bits(1) − bits(√½)
	bits += shift
	e := float32(int32(bits>>23) - 127)
	m := math.Float32frombits(bits&0x007fffff+0x3f3504f3) - 1
	z := m * m
	p := ((((((((7.0376836292e-2*m-1.1514610310e-1)*m+1.1676998740e-1)*m-1.2420140846e-1)*m+
		1.4249322787e-1)*m-1.6668057665e-1)*m+2.0000714765e-1)*m-2.4999993993e-1)*m + 3.3333331174e-1)
	y := m*z*p + e*ln2Lo - 0.5*z
	return m + y + e*ln2Hi
}

// symlog is sign(x)·ln(1 + |x|), which compresses large magnitudes and is
// close to x near zero; symexp is its inverse (DreamerV3).
func symlog(x float32) float32 {
	if x < 0 {
		return float32(-math.Log1p(-float64(x)))
	}
	return float32(math.Log1p(float64(x)))
}

func symexp(y float32) float32 {
	if y < 0 {
		return float32(-math.Expm1(-float64(y)))
	}
	return float32(math.Expm1(float64(y)))
}

// fromValueSpace turns value-head outputs into returns in place.
func (m *Model) fromValueSpace(v []float32) {
	if m.cfg.ValueTransform != ValueTransformSymlog {
		return
	}
	for i, y := range v {
		v[i] = symexp(y)
	}
}

// toValueSpace turns returns into value-head targets in place.
func (m *Model) toValueSpace(g []float32) {
	if m.cfg.ValueTransform != ValueTransformSymlog {
		return
	}
	for i, x := range g {
		g[i] = symlog(x)
	}
}
