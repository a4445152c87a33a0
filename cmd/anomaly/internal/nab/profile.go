package nab

import (
	"fmt"
	"path/filepath"
	"slices"
)

// Profile is a NAB application profile: the weights of true positives,
// false positives and false negatives. TN is read but, as in NAB, unused.
type Profile struct {
	Name           string
	TP, FP, FN, TN float64
}

// profileOrder is the order in which NAB's results list the profiles.
var profileOrder = []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}

// LoadProfiles reads config/profiles.json under the NAB root dir. It returns
// standard, reward_low_FP_rate and reward_low_FN_rate in that order, then
// any other profile by name.
func LoadProfiles(dir string) ([]Profile, error) {
	path := filepath.Join(dir, "config", "profiles.json")
	var raw map[string]struct {
		CostMatrix *struct {
			TP *float64 `json:"tpWeight"`
			FP *float64 `json:"fpWeight"`
			FN *float64 `json:"fnWeight"`
			TN *float64 `json:"tnWeight"`
		}
	}
	if err := readJSON(path, &raw); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		if !slices.Contains(profileOrder, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = append(slices.Clone(profileOrder), names...)

	out := make([]Profile, 0, len(names))
	for _, name := range names {
		p, ok := raw[name]
		if !ok {
			return nil, fmt.Errorf("nab: %s: no profile %q", path, name)
		}
		m := p.CostMatrix
		if m == nil || m.TP == nil || m.FP == nil || m.FN == nil {
			return nil, fmt.Errorf("nab: %s: profile %q lacks CostMatrix tpWeight, fpWeight or fnWeight", path, name)
		}
		pr := Profile{Name: name, TP: *m.TP, FP: *m.FP, FN: *m.FN}
		if m.TN != nil {
			pr.TN = *m.TN
		}
		out = append(out, pr)
	}
	return out, nil
}
