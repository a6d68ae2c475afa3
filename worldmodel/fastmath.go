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
