package nab

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nabcorpus"
)

// loadCorpus loads the bundled NAB corpus and its profiles, and returns its
// root: unpacked once into the repository's ignored .cache folder.
func loadCorpus(tb testing.TB) (root string, c *Corpus, profiles []Profile) {
	tb.Helper()
	root, err := nabcorpus.Cached(filepath.Join("..", "..", ".cache"))
	if err != nil {
		tb.Fatal(err)
	}
	c, err = Load(root)
	if err != nil {
		tb.Fatal(err)
	}
	profiles, err = LoadProfiles(root)
	if err != nil {
		tb.Fatal(err)
	}
	return root, c, profiles
}

func TestLoad(t *testing.T) {
	_, c, profiles := loadCorpus(t)
	var points, windows int
	for _, f := range c.Files {
		points += len(f.Times)
		windows += len(f.Windows)
		if len(f.Values) != len(f.Times) {
			t.Errorf("%s: %d values, %d times", f.Name, len(f.Values), len(f.Times))
		}
	}
	if len(c.Files) != 58 || points != 365558 || windows != 116 {
		t.Errorf("got %d files, %d points, %d windows; want 58, 365558, 116", len(c.Files), points, windows)
	}
	want := []Profile{
		{"standard", 1, 0.11, 1, 1},
		{"reward_low_FP_rate", 1, 0.22, 1, 1},
		{"reward_low_FN_rate", 1, 0.11, 2, 1},
	}
	if len(profiles) != len(want) {
		t.Fatalf("got %d profiles, want %d", len(profiles), len(want))
	}
	for i := range want {
		if profiles[i] != want[i] {
			t.Errorf("profile %d = %+v, want %+v", i, profiles[i], want[i])
		}
	}
}

// TestPublished feeds the published detectors' anomaly scores to Score and
// compares the result with results/final_results.json.
func TestPublished(t *testing.T) {
	root, c, profiles := loadCorpus(t)
	for _, detector := range []string{"numenta", "windowedGaussian"} {
		t.Run(detector, func(t *testing.T) {
			scores, err := LoadResults(filepath.Join(root, "results", detector), c)
			if err != nil {
				t.Fatal(err)
			}
			published, err := LoadPublished(root, detector)
			if err != nil {
				t.Fatal(err)
			}
			results, err := Score(c, profiles, scores)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				want, ok := published[r.Profile]
				if !ok {
					t.Errorf("%s: no published score", r.Profile)
					continue
				}
				t.Logf("%-18s threshold %.6f raw %8.3f normalised %6.2f (published %6.2f) TP %d FP %d FN %d",
					r.Profile, r.Threshold, r.Raw, r.Normalized, want, r.TP, r.FP, r.FN)
				if math.Abs(r.Normalized-want) > 0.2 {
					t.Errorf("%s: normalised score %.3f, published %.3f", r.Profile, r.Normalized, want)
				}
			}
		})
	}
}

// TestPublishedThresholds scores at the thresholds NAB published for each
// detector and profile (results/<detector>/<detector>_<profile>_scores.csv)
// and compares with the published totals. This checks the scoring rules on
// their own, apart from the threshold sweep.
func TestPublishedThresholds(t *testing.T) {
	root, c, profiles := loadCorpus(t)
	for _, detector := range []string{"numenta", "windowedGaussian"} {
		dir := filepath.Join(root, "results", detector)
		scores, err := LoadResults(dir, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range profiles {
			t.Run(detector+"/"+p.Name, func(t *testing.T) {
				threshold, raw, fp := readTotals(t, filepath.Join(dir, detector+"_"+p.Name+"_scores.csv"))
				r, err := ScoreAt(c, []Profile{p}, scores, threshold)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(r[0].Raw-raw) > 1e-6 || r[0].FP != fp {
					t.Errorf("at threshold %v: raw %.9f, FP %d; published raw %.9f, FP %d", threshold, r[0].Raw, r[0].FP, raw, fp)
				}
			})
		}
	}
}

// readTotals returns the threshold, total score and FP count of a NAB
// score table.
func readTotals(t *testing.T, path string) (threshold, raw float64, fp int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count
	first, last := rows[1], rows[len(rows)-1]
	if last[0] != "Totals" {
		t.Fatalf("%s: last row is not the totals", path)
	}
	threshold, err1 := strconv.ParseFloat(first[3], 64)
	raw, err2 := strconv.ParseFloat(last[4], 64)
	fp, err3 := strconv.Atoi(last[7])
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return threshold, raw, fp
}

func TestProbation(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{0, 0}, {6, 0}, {7, 1}, {100, 15}, {4032, 604}, {5000, 750}, {22695, 750},
	} {
		if got := probation(tt.n); got != tt.want {
			t.Errorf("probation(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

// syntheticPoints is the length of the synthetic file: its probation is 150
// points.
const syntheticPoints = 1000

// synthetic returns a one-file corpus of syntheticPoints points a minute
// apart, with windows given as index pairs.
func synthetic(windows ...[2]int) *Corpus {
	f := &File{Name: "synthetic/a.csv", Times: make([]time.Time, syntheticPoints), Values: make([]float64, syntheticPoints)}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range f.Times {
		f.Times[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	for _, w := range windows {
		f.Windows = append(f.Windows, Window{Start: f.Times[w[0]], End: f.Times[w[1]]})
	}
	return &Corpus{Files: []*File{f}}
}

// detections returns scores of the synthetic file's points, 1 at the given
// indices and 0 elsewhere.
func detections(at ...int) map[string][]float64 {
	s := make([]float64, syntheticPoints)
	for _, i := range at {
		s[i] = 1
	}
	return map[string][]float64{"synthetic/a.csv": s}
}

var standard = Profile{Name: "standard", TP: 1, FP: 0.11, FN: 1, TN: 1}

// TestRules checks NAB's rules on a file of 1000 points (probation 150)
// with one window of 100 points, [400, 499], at threshold 0.5.
func TestRules(t *testing.T) {
	window := [2]int{400, 499}
	fpAfter := func(d float64) float64 { return 0.11 * scaledSigmoid(d/99) }
	for _, tt := range []struct {
		name       string
		at         []int
		raw        float64
		tp, fp, fn int
	}{
		{"nothing", nil, -1, 0, 0, 1},
		{"window start", []int{400}, 1, 1, 0, 0},
		{"window middle", []int{450}, scaledSigmoid(-50.0/100) / maxTP, 1, 0, 0},
		{"window end", []int{499}, scaledSigmoid(-1.0/100) / maxTP, 1, 0, 0},
		{"earliest counts once", []int{420, 410, 480}, scaledSigmoid(-90.0/100) / maxTP, 1, 0, 0},
		{"FP before any window", []int{200}, -1 - 0.11, 0, 1, 1},
		{"FP just after window", []int{500}, -1 + fpAfter(1), 0, 1, 1},
		{"FP a window later", []int{598}, -1 + fpAfter(99), 0, 1, 1},
		{"FP far after window", []int{900}, -1 - 0.11, 0, 1, 1},
		{"probation", []int{0, 149}, -1, 0, 0, 1},
		{"first after probation", []int{150}, -1 - 0.11, 0, 1, 1},
		{"TP and FP", []int{400, 900}, 1 - 0.11, 1, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ScoreAt(synthetic(window), []Profile{standard}, detections(tt.at...), 0.5)
			if err != nil {
				t.Fatal(err)
			}
			got := r[0]
			if math.Abs(got.Raw-tt.raw) > 1e-12 || got.TP != tt.tp || got.FP != tt.fp || got.FN != tt.fn {
				t.Errorf("raw %.6f TP %d FP %d FN %d; want raw %.6f TP %d FP %d FN %d",
					got.Raw, got.TP, got.FP, got.FN, tt.raw, tt.tp, tt.fp, tt.fn)
			}
			if want := 100 * (tt.raw + 1) / 2; math.Abs(got.Normalized-want) > 1e-9 {
				t.Errorf("normalised %.6f, want %.6f", got.Normalized, want)
			}
		})
	}
}

// TestFPDecay checks that a false positive costs more the further it is
// from the preceding window, and the full FP weight from three window
// widths on.
func TestFPDecay(t *testing.T) {
	cost := func(i int) float64 {
		r, err := ScoreAt(synthetic([2]int{400, 499}), []Profile{standard}, detections(i), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return -(r[0].Raw + 1) // less the missed window
	}
	prev := 0.0
	for _, i := range []int{500, 510, 550, 600, 700, 795} {
		c := cost(i)
		if c <= prev || c > 0.11 {
			t.Errorf("FP at %d costs %.6f, after %.6f", i, c, prev)
		}
		prev = c
	}
	for _, i := range []int{796, 900} { // (796-499)/99 = 3 widths
		if c := cost(i); math.Abs(c-0.11) > 1e-12 {
			t.Errorf("FP at %d costs %v, want 0.11", i, c)
		}
	}
}

// TestSweep checks that Score picks the best threshold, and the higher of
// two equally good ones.
func TestSweep(t *testing.T) {
	c := synthetic([2]int{400, 499}, [2]int{700, 799})
	scores := detections()
	s := scores["synthetic/a.csv"]
	s[410] = 0.9 // early in the first window
	s[600] = 0.8 // FP between the windows
	s[750] = 0.7 // in the second window
	s[200] = 0.6 // FP before the windows
	for i := 800; i < syntheticPoints; i++ {
		s[i] = 0.3 // many FPs after the second window
	}
	lowFN := Profile{Name: "reward_low_FN_rate", TP: 1, FP: 0.11, FN: 2, TN: 1}
	costly := Profile{Name: "costly_FP", TP: 1, FP: 5, FN: 1, TN: 1}
	rs, err := Score(c, []Profile{standard, lowFN, costly}, scores)
	if err != nil {
		t.Fatal(err)
	}
	// Lowering the threshold to 0.7 adds the FP at 600 and the second
	// window; 0.6 adds the FP at 200 only, so it is worse.
	for i, want := range []float64{0.7, 0.7, 0.9} {
		if rs[i].Threshold != want {
			t.Errorf("%s: threshold %v, want %v", rs[i].Profile, rs[i].Threshold, want)
		}
	}
	if rs[0].TP != 2 || rs[0].FP != 1 || rs[0].FN != 0 {
		t.Errorf("standard: TP %d FP %d FN %d, want 2 1 0", rs[0].TP, rs[0].FP, rs[0].FN)
	}

	// With every score equal, detecting nothing wins: NAB's start
	// threshold 1.1.
	flat := detections()
	for i := range flat["synthetic/a.csv"] {
		flat["synthetic/a.csv"][i] = 0.5
	}
	rs, err = Score(c, []Profile{standard}, flat)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Threshold != noDetection || rs[0].Normalized != 0 {
		t.Errorf("flat scores: threshold %v normalised %v, want %v and 0", rs[0].Threshold, rs[0].Normalized, noDetection)
	}
}

func TestScoreErrors(t *testing.T) {
	c := synthetic([2]int{400, 499})
	bad := detections()
	bad["synthetic/a.csv"][7] = math.NaN()
	for _, tt := range []struct {
		name   string
		scores map[string][]float64
		want   string
	}{
		{"missing", map[string][]float64{}, "no scores for synthetic/a.csv"},
		{"short", map[string][]float64{"synthetic/a.csv": make([]float64, 10)}, "10 scores for synthetic/a.csv"},
		{"NaN", bad, "synthetic/a.csv point 7 (line 9)"},
		{"unknown", map[string][]float64{"synthetic/a.csv": make([]float64, 1000), "x/y.csv": nil}, "x/y.csv"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Score(c, []Profile{standard}, tt.scores)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkScore(b *testing.B) {
	root, c, profiles := loadCorpus(b)
	scores, err := LoadResults(filepath.Join(root, "results", "numenta"), c)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Score(c, profiles, scores); err != nil {
			b.Fatal(err)
		}
	}
}
