package detector

import "math"

// logQ is the natural log of the standard normal upper tail at z, floored at
// log(1/2): a chance above one half is no evidence of anything. It reads a
// table instead of calling Erfc and Log, which cost more than the rest of a
// point's scoring; linear interpolation between knots 1/64 apart is within
// 3e-5 of the exact value, a thousandth of a score unit.
func logQ(z float64) float64 {
	if z <= 0 {
		return -math.Ln2
	}
	x := z * logQSteps
	if x >= logQKnots-1 {
		// Far beyond any threshold (score 1 is a log tail of -23): continue
		// with the tail's slope, -z, so that the function stays monotone.
		return logQTable[logQKnots-1] - (z-logQMax)*logQMax
	}
	// 0 < x < logQKnots-1, so the mask changes nothing, but it proves to the
	// compiler that both knots are in the table: no bounds checks.
	i := int(x) & (logQKnots - 2)
	f := x - float64(i)
	return logQTable[i]*(1-f) + logQTable[i+1]*f
}

const (
	logQMax   = 8  // the table covers z in [0, logQMax]
	logQSteps = 64 // knots per unit of z; logQMax*logQSteps is a power of 2
	logQKnots = logQMax*logQSteps + 1
)

var logQTable = func() (t [logQKnots]float64) {
	for i := range t {
		t[i] = logQExact(float64(i) / logQSteps)
	}
	return t
}()

// logQExact is log(Q(z)) computed from Erfc, for z >= 0.
func logQExact(z float64) float64 {
	return math.Log(0.5 * math.Erfc(z/math.Sqrt2))
}

// exp returns e^x for x in [0, maxExp], within 2e-7 of math.Exp relative to
// its value; beyond maxExp it returns e^maxExp. It is for Result.Bounds,
// called for every point when the band is output, where math.Exp cost a
// fifth of a point's scoring. x = k*ln2 + f with k an integer and
// |f| <= ln2/2, so e^x = 2^k * e^f, and e^f is its Taylor series to the 6th
// power (the 7th term is below 1.2e-7 of it).
func exp(x float64) float64 {
	x = min(x, maxExp)
	// x >= 0, so truncation is the floor, and the integer k serves as is for
	// the exponent (converting a float64 to uint64 takes a dozen instructions).
	k := int64(x*math.Log2E + 0.5)
	f := x - float64(k)*math.Ln2
	p := 1 + f*(1+f*(1.0/2+f*(1.0/6+f*(1.0/24+f*(1.0/120+f*(1.0/720))))))
	return math.Float64frombits(math.Float64bits(p) + uint64(k)<<52)
}

// maxExp keeps exp's result finite: e^700 is about 1e304.
const maxExp = 700
