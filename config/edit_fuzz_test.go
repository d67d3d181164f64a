package config

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzDocumentEdit edits arbitrary YAML: an edit never panics, and an edit that succeeds
// leaves text that is still YAML, with the value it set where Get finds it.
func FuzzDocumentEdit(f *testing.F) {
	f.Add(DefaultYAML, "Comment", "x")
	if b, err := os.ReadFile(filepath.Join("testdata", "edit", "commented.yaml")); err == nil {
		f.Add(b, "Bindings", "0.0.0.0:26, [::]:26")
	}
	f.Add([]byte("ReceiveConnectors:\n  - Name: A\n    Comment: |\n      a\n    Enabled: true # c\n"), "Comment", "b: c")
	f.Add([]byte("ReceiveConnectors: [{Name: A}]\n"), "Enabled", "false")
	f.Add([]byte("ReceiveConnectors:\n- Name: A\n  Bindings: [\"0.0.0.0:25\",\n   x]\n"), "Bindings", "")
	f.Fuzz(func(t *testing.T, src []byte, param, value string) {
		d, err := ParseDocument("f.yaml", src)
		if err != nil {
			return
		}
		objs := d.Objects("ReceiveConnectors")
		if len(objs) == 0 {
			if _, err := d.Add("ReceiveConnectors", Field{"Name", "A"}); err != nil {
				return
			}
			objs = d.Objects("ReceiveConnectors")
		}
		o := objs[0]
		if err := o.Set(param, value); err != nil {
			return
		}
		out, _ := d.Bytes()
		var n yaml.Node
		if err := yaml.Unmarshal(out, &n); err != nil {
			t.Fatalf("the edited text is not YAML: %v\n%s", err, out)
		}
		if _, ok := o.Get(param); !ok {
			t.Fatalf("Get(%q) finds nothing after Set\n%s", param, out)
		}
		if err := o.Set(param, nil); err != nil {
			t.Fatalf("removing %q: %v", param, err)
		}
	})
}
