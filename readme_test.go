package telegrafanomaly

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPluginREADMEs holds every plugin README to Telegraf's conventions with
// Telegraf's own tools (go.mod's tool directive pins them to v1.39.3): its
// generator, run on a copy, leaves the README as it is (the ```toml
// @sample.conf block is the plugin's sample.conf, the "Global configuration
// options" section is docs/includes/plugin_config.md), and its linter passes
// it (header, metadata lines, relative links, required sections). `make
// docs` runs the generator on the READMEs themselves.
func TestPluginREADMEs(t *testing.T) {
	readmes, err := filepath.Glob("plugins/*/*/README.md")
	if err != nil || len(readmes) < 2 {
		t.Fatalf("plugin READMEs: %v, %v", readmes, err)
	}
	tools := t.TempDir()
	build := exec.Command("go", "build", "-o", tools+string(filepath.Separator),
		"github.com/influxdata/telegraf/tools/readme_config_includer",
		"github.com/influxdata/telegraf/tools/readme_linter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building Telegraf's README tools: %v\n%s", err, out)
	}
	include, err := os.ReadFile("docs/includes/plugin_config.md")
	if err != nil {
		t.Fatal(err)
	}

	for _, readme := range readmes {
		t.Run(filepath.Dir(readme), func(t *testing.T) {
			// The generator finds the includes' root above the plugins/
			// folder of its working directory: a copy of the repository's layout.
			root := t.TempDir()
			dir := filepath.Join(root, filepath.Dir(readme))
			for _, f := range []struct{ from, to string }{
				{readme, filepath.Join(dir, "README.md")},
				{filepath.Join(filepath.Dir(readme), "sample.conf"), filepath.Join(dir, "sample.conf")},
			} {
				b, err := os.ReadFile(f.from)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, f.to, b)
			}
			writeFile(t, filepath.Join(root, "docs", "includes", "plugin_config.md"), include)
			gen := exec.Command(filepath.Join(tools, "readme_config_includer"))
			gen.Dir = dir
			if out, err := gen.CombinedOutput(); err != nil {
				t.Fatalf("Telegraf's README generator: %v\n%s", err, out)
			}
			want, err := os.ReadFile(readme)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Telegraf's generator changes %s (run make docs):\n%s", readme, got)
			}

			lint := exec.Command(filepath.Join(tools, "readme_linter"), "--quiet", readme)
			if out, err := lint.CombinedOutput(); err != nil {
				t.Errorf("Telegraf's README linter: %v\n%s", err, out)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
