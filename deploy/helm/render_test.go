// Package helm checks the Helm chart in exlab/: it renders it with helm template and reads
// every manifest back. It holds only this test; the chart is the product.
package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/exlab/exlab/config"
)

// helmModule is the helm the test runs when none is on PATH: go run from a directory outside
// exlab's module, so exlab's go.mod never names helm (like the Makefile's staticcheck).
const helmModule = "helm.sh/helm/v3/cmd/helm@v3.22.0"

// helm runs helm with args: the one on PATH, else go run helmModule (the first run compiles
// it, about 2½ minutes on 2 busy cores; go caches the binary after that).
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	var cmd *exec.Cmd
	if p, err := exec.LookPath("helm"); err == nil {
		cmd = exec.Command(p, args...)
	} else {
		cmd = exec.Command("go", append([]string{"run", helmModule}, args...)...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	t.Logf("helm %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	return out
}

// object is one rendered manifest.
type object = map[string]any

// get walks keys (map keys, or list indexes as ints) down from o; nil when absent.
func get(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

// render is helm template of the chart with extra args, split into its manifests.
func render(t *testing.T, extra ...string) []object {
	t.Helper()
	chart, err := filepath.Abs("exlab")
	if err != nil {
		t.Fatal(err)
	}
	out := helm(t, append([]string{"template", "lab", chart, "--namespace", "exlab"}, extra...)...)
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests: %v\n%s", err, out)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

func TestLint(t *testing.T) {
	chart, _ := filepath.Abs("exlab")
	out := helm(t, "lint", "--strict", chart)
	if !bytes.Contains(out, []byte("0 chart(s) failed")) {
		t.Errorf("helm lint:\n%s", out)
	}
}

// TestRender: the default values make the two-server organization's ConfigMap (a file
// config.Parse accepts), a Secret with the admin token, a StatefulSet with its own volume for
// each hub (EX01, EX02), a Deployment for EX01's frontend behind a Service on 25 and 587, every
// pod non-root with a read-only root, NET_BIND_SERVICE only, probes, and the organization
// mounted where --config reads it. A second render with other values shows they take effect.
func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		hubs      []string
		frontends map[string]int // server → replicas
		hubCmd    string
	}{
		{"defaults", nil, []string{"EX01", "EX02"}, map[string]int{"EX01": 2}, "hub"},
		{"one serve hub, two frontends", []string{"--set", "hubs[0].server=EX02,hubs[0].storage=5Gi", "--set", "hubCommand=serve",
			"--set", "frontends[0].server=EX01,frontends[0].replicas=3,frontends[1].server=EX02"},
			[]string{"EX02"}, map[string]int{"EX01": 3, "EX02": 1}, "serve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkRender(t, render(t, tc.args...), tc.hubs, tc.frontends, tc.hubCmd)
		})
	}
}

func checkRender(t *testing.T, objs []object, hubs []string, frontends map[string]int, hubCmd string) {
	byKind := map[string][]object{}
	for _, o := range objs {
		byKind[str(o, "kind")] = append(byKind[str(o, "kind")], o)
	}
	for kind, n := range map[string]int{"ConfigMap": 1, "Secret": 1, "StatefulSet": len(hubs), "Deployment": len(frontends), "Service": len(hubs) + 1} {
		if len(byKind[kind]) != n {
			t.Errorf("%d %s, want %d", len(byKind[kind]), kind, n)
		}
	}
	if len(objs) != 3+2*len(hubs)+len(frontends) {
		t.Errorf("%d manifests, want %d", len(objs), 3+2*len(hubs)+len(frontends))
	}
	if len(byKind["ConfigMap"]) != 1 {
		t.FailNow()
	}
	cm := byKind["ConfigMap"][0]
	org, err := config.Parse("organization.yaml", []byte(str(cm, "data", "organization.yaml")))
	if err != nil {
		t.Fatalf("the ConfigMap's organization file: %v", err)
	}
	if len(str(byKind["Secret"][0], "data", "token")) < 32 {
		t.Errorf("admin token %q", str(byKind["Secret"][0], "data", "token"))
	}

	var gotHubs []string
	for _, s := range byKind["StatefulSet"] {
		pod := get(s, "spec", "template")
		srv := checkPod(t, org, cm, pod, hubCmd, config.HubTransport)
		gotHubs = append(gotHubs, srv)
		if n, _ := get(s, "spec", "replicas").(int); n != 1 {
			t.Errorf("%s: replicas %v, want 1 (a server is one identity)", srv, get(s, "spec", "replicas"))
		}
		claim := get(s, "spec", "volumeClaimTemplates", 0)
		if claim == nil || str(claim, "spec", "resources", "requests", "storage") == "" {
			t.Errorf("%s: no volumeClaimTemplate: %v", srv, get(s, "spec", "volumeClaimTemplates"))
		}
		if !mounts(pod, str(claim, "metadata", "name"), "/data") {
			t.Errorf("%s: the volume claim is not mounted at /data", srv)
		}
		c := get(pod, "spec", "containers", 0)
		for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/livez"} {
			if str(c, probe, "httpGet", "path") != path || str(c, probe, "httpGet", "port") != "admin" {
				t.Errorf("%s: %s %v, want httpGet %s on the admin port", srv, probe, get(c, probe), path)
			}
		}
		args := strs(get(c, "args"))
		if i := slices.Index(args, "--admin"); i < 0 || i+1 == len(args) || !strings.HasSuffix(args[i+1], ":"+port(c, "admin")) {
			t.Errorf("%s: --admin in %v is not the admin port %s", srv, args, port(c, "admin"))
		}
		if str(c, "env", 0, "name") != "EXLAB_ADMIN_TOKEN" || str(c, "env", 0, "valueFrom", "secretKeyRef", "name") != str(byKind["Secret"][0], "metadata", "name") {
			t.Errorf("%s: the admin token does not come from the Secret: %v", srv, get(c, "env"))
		}
		if svc := find(byKind["Service"], str(s, "spec", "serviceName")); svc == nil || str(svc, "spec", "clusterIP") != "None" {
			t.Errorf("%s: no headless Service %q", srv, str(s, "spec", "serviceName"))
		}
	}
	if !slices.Equal(gotHubs, hubs) {
		t.Errorf("hubs %v, want %v", gotHubs, hubs)
	}

	var frontendSvc object
	for _, s := range byKind["Service"] {
		if str(s, "spec", "clusterIP") != "None" {
			frontendSvc = s
		}
	}
	var ports []int
	for _, p := range list(get(frontendSvc, "spec", "ports")) {
		n, _ := get(p, "port").(int)
		ports = append(ports, n)
	}
	if !slices.Equal(ports, []int{25, 587}) {
		t.Errorf("frontend Service ports %v, want 25 587", ports)
	}
	got := map[string]int{}
	for _, d := range byKind["Deployment"] {
		pod := get(d, "spec", "template")
		srv := checkPod(t, org, cm, pod, "frontend", config.FrontendTransport)
		n, _ := get(d, "spec", "replicas").(int)
		got[srv] = n
		for k, v := range get(frontendSvc, "spec", "selector").(map[string]any) {
			if get(pod, "metadata", "labels", k) != v {
				t.Errorf("%s: the frontend Service's selector %s=%v does not select its pods", srv, k, v)
			}
		}
		c := get(pod, "spec", "containers", 0)
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			if p := str(c, probe, "tcpSocket", "port"); p != "smtp" || port(c, p) != "25" {
				t.Errorf("%s: %s %v, want the SMTP port 25", srv, probe, get(c, probe))
			}
		}
		for _, p := range []string{"smtp", "submission"} {
			if port(c, p) == "" {
				t.Errorf("%s: no container port %s", srv, p)
			}
		}
	}
	if len(got) != len(frontends) {
		t.Errorf("frontends %v, want %v", got, frontends)
	}
	for srv, n := range frontends {
		if got[srv] != n {
			t.Errorf("frontend %s: %v replicas, want %v", srv, got[srv], n)
		}
	}
}

// checkPod checks what every exlab pod must have and returns its --server: the command, a
// server of the organization with the role, the ConfigMap mounted where --config reads it,
// the security contexts, both probes.
func checkPod(t *testing.T, org *config.Organization, cm object, pod any, cmd string, role config.TransportRole) string {
	t.Helper()
	c := get(pod, "spec", "containers", 0)
	args := strs(get(c, "args"))
	flag := func(name string) string {
		if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	srv := flag("--server")
	if len(args) == 0 || args[0] != cmd {
		t.Errorf("%s: args %v, want exlab %s", srv, args, cmd)
	}
	if s := org.Server(srv); s == nil || !slices.Contains(s.Roles, role) {
		t.Errorf("--server %q: not a %s server of the organization", srv, role)
	}
	if str(c, "command", 0) != "/exlab" {
		t.Errorf("%s: command %v", srv, get(c, "command"))
	}
	var cmVolume string
	for _, v := range list(get(pod, "spec", "volumes")) {
		if str(v, "configMap", "name") == str(cm, "metadata", "name") {
			cmVolume = str(v, "name")
		}
	}
	if cmVolume == "" || !mounts(pod, cmVolume, filepath.Dir(flag("--config"))) || filepath.Base(flag("--config")) != "organization.yaml" {
		t.Errorf("%s: the organization ConfigMap is not mounted where --config %q reads it", srv, flag("--config"))
	}
	if !mounts(pod, "", flag("--data")) || !mounts(pod, "", "/tmp") {
		t.Errorf("%s: --data %q or /tmp has no volume (the root is read-only)", srv, flag("--data"))
	}
	if get(pod, "spec", "securityContext", "runAsNonRoot") != true {
		t.Errorf("%s: pod securityContext %v", srv, get(pod, "spec", "securityContext"))
	}
	sc := get(c, "securityContext")
	if get(sc, "runAsNonRoot") != true || get(sc, "readOnlyRootFilesystem") != true || get(sc, "allowPrivilegeEscalation") != false ||
		!slices.Equal(strs(get(sc, "capabilities", "drop")), []string{"ALL"}) ||
		!slices.Equal(strs(get(sc, "capabilities", "add")), []string{"NET_BIND_SERVICE"}) {
		t.Errorf("%s: container securityContext %v", srv, sc)
	}
	for _, p := range []string{"readinessProbe", "livenessProbe"} {
		if get(c, p) == nil {
			t.Errorf("%s: no %s", srv, p)
		}
	}
	return srv
}

// mounts: the pod's container mounts a volume at path (the volume named name, or any if "").
func mounts(pod any, name, path string) bool {
	for _, m := range list(get(pod, "spec", "containers", 0, "volumeMounts")) {
		if (name == "" || str(m, "name") == name) && str(m, "mountPath") == path {
			return true
		}
	}
	return false
}

// port is the container port named name, as text ("" when there is none).
func port(c any, name string) string {
	for _, p := range list(get(c, "ports")) {
		if str(p, "name") == name {
			n, _ := get(p, "containerPort").(int)
			return strconv.Itoa(n)
		}
	}
	return ""
}

func find(objs []object, name string) object {
	for _, o := range objs {
		if str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

func list(v any) []any { l, _ := v.([]any); return l }

func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
