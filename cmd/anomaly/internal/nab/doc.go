// Package nab implements the scoring rules of the Numenta Anomaly Benchmark
// (NAB) and loads its data corpus.
//
// NAB rewards a detector for flagging each labelled anomaly window early and
// penalises it for missed windows and for detections outside windows. The
// rules follow numenta/NAB's Sweeper (nab/sweeper.py), which produced the
// published results in results/final_results.json:
//
//   - The first min(floor(0.15·N), 750) points of each file are a
//     probationary period: the detector sees them but they are not scored.
//   - A window counts once, by its earliest detection, weighted by a scaled
//     sigmoid of the detection's position: tpWeight at the window's first
//     point, falling towards zero at its last.
//   - A window without detection costs fnWeight.
//   - Each detection outside every window costs up to fpWeight: the full
//     weight before the first window, and after a window a share that grows
//     from nearly nothing just past its end to the full weight three window
//     lengths later.
//   - A point is a detection when its anomaly score is at least the
//     threshold. Score picks, per profile, the threshold over the whole
//     corpus that maximises the raw score.
//   - The normalised score is 100·(raw−null)/(perfect−null), where null
//     detects nothing and perfect detects every window at its first point.
package nab
