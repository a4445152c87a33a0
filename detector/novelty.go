package detector

import "math"

// Sequence novelty, after the Contextual Anomaly Detector (CAD OSE): a point is novel when the values of the last few points,
// quantized, form a context the series has never shown. It sees a change of
// shape whose values stay within the normal range (a cycle that stops, a new
// rhythm), which the deviation from the prediction does not.
//
// Each value is quantized to a level of the range seen so far, as CAD
// bins a fixed range (the range only grows: a new extreme re-bins the
// values after it, and one that widens it for good leaves ordinary values
// in fewer levels, the novelty quieter, while the other evidence holds);
// the bins are never narrower than the smallest sigma (minSigmaRel), so a
// flat series that moves by a hair shows no new level, as its deviation
// is no evidence either. The levels of contextPoints points in a row are
// one context, hashed into a 256-bit set of the contexts seen,
// Bloom-style with one hash.
// The set is never aged: a series that has shown most contexts (a noisy
// one) fills it, its points are then rarely novel, and its score rests on
// the other evidence, as before (ageing it scored lower on NAB: see
// docs/how-it-scores.md for this and the constants below).
//
// How often a series shows a new context is its own: a smooth cycle
// repeats its few contexts, a noisy series keeps finding new ones. So a
// novel point is evidence only against the series' own long-run rate of
// novelty: the chance of at least as many novel points among the last
// novelWindow, were each novel with that rate independently (a binomial
// tail).
const (
	// novelLevels is how many equal bins divide the range [lo, hi); a value
	// below it and one at or above its top are one level each.
	novelLevels = 8
	// contextPoints is how many points in a row form a context; each level
	// takes levelBits of the context and of Model.recent, which holds the
	// levels of the points before.
	contextPoints = 4
	levelBits     = 4
	// novelWindow is how many of the latest points are counted: the bits
	// of Model.novel (32 would take 2 more bytes of Model, and so a whole
	// cache line more in each table entry, for little).
	novelWindow = 16
	// The long-run rate of novelty learns at the likelihood's rate, over
	// about the last 1000 points. A rate below novelRateFloor, or as close
	// to 1, cannot be told apart over that memory, so the rate used is kept
	// at least that far from 0 and 1.
	novelRateFloor = likRate
)

// A level takes levelBits of a context, with room for all of them.
var _ [1<<levelBits - (novelLevels + 2)]struct{}

// contextOf returns the context of the point x: the level of x in the
// range seen so far after the levels of the points before it. Level 0 is
// below the range, 1 to novelLevels its bins, novelLevels+1 at or above
// its top. Bins are at least the smallest sigma wide (see sigmaOf), so a
// series with no range yet, or a flat one, has its values at level 1, or
// beyond the range.
func (m *Model) contextOf(x float64) uint32 {
	// The level is 1 + the floor of the position in bins, clamped to
	// [-1, novelLevels]; clamped first, the sum is at least 0, where a
	// conversion to an integer truncates to the floor.
	bins := max(float64(m.span), novelLevels*(minSigmaRel*max(math.Abs(m.lo), math.Abs(m.hi()))+minSigmaAbs))
	u := novelLevels*(x-m.lo)/bins + 1
	level := uint32(max(0, min(novelLevels+1, u)))
	return uint32(m.recent)<<levelBits | level
}

// contextBit returns the word of Model.contexts and the bit in it that
// stand for context c: the top 8 bits of a Fibonacci hash of c.
func contextBit(c uint32) (word uint32, bit uint64) {
	h := (c * 0x9E3779B1) >> 24
	return h >> 6, 1 << (h & 63)
}

// seen reports whether context c is in the set of contexts seen.
func (m *Model) seen(c uint32) bool {
	w, b := contextBit(c)
	return m.contexts[w&3]&b != 0
}

// learnContext adds context c to the set, makes it the recent levels of
// the next point, and records whether it was novel: novel is Model.novel
// with this point's bit, newest lowest. lr is the learning rate of the
// long-run rate of novelty (the likelihood's).
func (m *Model) learnContext(c uint32, novel uint16, lr float64) {
	w, b := contextBit(c)
	m.contexts[w&3] |= b
	m.recent = uint16(c & (1<<(levelBits*(contextPoints-1)) - 1))
	m.novelRate += float32(lr * (float64(novel&1) - float64(m.novelRate)))
	m.novel = novel
}

// logNovelty is the natural log of the chance that at least count of the
// last novelWindow points were novel, each being so independently at the
// series' long-run rate: log P(N >= count) for N ~ Binomial(novelWindow, p).
// It is apart, and not inlined, because only novel points need it.
//
//go:noinline
func (m *Model) logNovelty(count int) float64 {
	// Clamped so that a NaN (a crafted snapshot) becomes the floor too.
	p := float64(m.novelRate)
	if !(p >= novelRateFloor) {
		p = novelRateFloor
	}
	p = min(p, 1-novelRateFloor)
	q := 1 - p
	// The first term, P(N = count), then the others as multiples of it: each
	// is the one before times (n-i)/(i+1) * p/q. Every term is at least
	// novelRateFloor^novelWindow (1e-48), far from underflow, so the sum is taken
	// as is and only it needs a logarithm: three of them cost more than the
	// rest of the call.
	first := choose[count]
	for range count {
		first *= p
	}
	for range novelWindow - count {
		first *= q
	}
	odds := p / q
	sum, term := 0.0, first
	for i := count; i <= novelWindow; i++ {
		sum += term
		term *= float64(novelWindow-i) / float64(i+1) * odds
	}
	return min(0, math.Log(sum))
}

// choose[k] is the binomial coefficient (novelWindow choose k).
var choose = func() (t [novelWindow + 1]float64) {
	t[0] = 1
	for k := 1; k <= novelWindow; k++ {
		t[k] = t[k-1] * float64(novelWindow-k+1) / float64(k)
	}
	return t
}()
