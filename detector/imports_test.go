package detector

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoThirdPartyImports keeps detector a plain library: it and the
// packages of this module it imports, through any chain, import the
// standard library and one another only (calendars, which read iCalendar
// files with third-party modules, are the package detector/calendar).
func TestNoThirdPartyImports(t *testing.T) {
	const module = "github.com/telegraf-anomaly/telegraf-anomaly"
	root := ".." // the module's root, from detector/
	seen := map[string]bool{}
	var visit func(pkg string, chain []string)
	visit = func(pkg string, chain []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, spec := range f.Imports {
				path, _ := strconv.Unquote(spec.Path.Value)
				via := append(chain[:len(chain):len(chain)], pkg)
				switch {
				case path == module || strings.HasPrefix(path, module+"/"):
					visit(path, via)
				case strings.Contains(strings.SplitN(path, "/", 2)[0], "."): // not the standard library
					t.Errorf("%s imports %s (through %s)", filepath.Join(dir, name), path, strings.Join(via, " -> "))
				}
			}
		}
	}
	visit(module+"/detector", nil)
	if len(seen) < 2 {
		t.Fatalf("looked at %v only: want detector and the module's packages it imports", seen)
	}
}
