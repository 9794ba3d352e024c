// Package kubernetes holds the Kubernetes manifests of spanshipper. Its test
// decodes every manifest strictly into the Kubernetes API types, so a
// misspelled or misplaced field fails here instead of being dropped by the
// API server, then checks the properties spanshipper depends on.
package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const namespace = "spanshipper"

// podMonitor is the part of the Prometheus operator's PodMonitor that
// podmonitor.yaml uses; k8s.io/api has no type for it. Decoding is strict, so
// a field used in the manifest must be added here first.
type podMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// kustomization is the part of kustomize's Kustomization that
// kustomization.yaml uses.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string   `json:"namespace"`
	Resources       []string `json:"resources"`
	Components      []string `json:"components"`
}

// kinds maps apiVersion/kind to a new value of its Go type.
var kinds = map[string]func() any{
	"v1/Namespace":                        func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                   func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                        func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                           func() any { return &corev1.Secret{} },
	"apps/v1/DaemonSet":                   func() any { return &appsv1.DaemonSet{} },
	"monitoring.coreos.com/v1/PodMonitor": func() any { return &podMonitor{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
	"kustomize.config.k8s.io/v1alpha1/Component":    func() any { return &component{} },
}

// manifest is one decoded document.
type manifest struct {
	file string
	obj  any
}

// splitDocuments splits a multi-document YAML file on its "---" lines and
// drops documents holding only comments and blank lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for i, part := range strings.Split("\n"+string(data), "\n---") {
		if i > 0 { // the rest of the separator line
			_, part, _ = strings.Cut(part, "\n")
		}
		empty := true
		for line := range strings.Lines(part) {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(part))
		}
	}
	return docs
}

// decodeStrict decodes one document into the Go type of its kind, rejecting
// unknown kinds, unknown fields and duplicate fields.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q of apiVersion %q", tm.Kind, tm.APIVersion)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// load decodes every *.yaml file of the directory.
func load(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	var all []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			obj, err := decodeStrict(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			all = append(all, manifest{f, obj})
		}
	}
	return all
}

// only returns the single object of type T, failing unless there is exactly one.
func only[T any](t *testing.T, all []manifest) (T, string) {
	t.Helper()
	var found []manifest
	for _, m := range all {
		if _, ok := m.obj.(T); ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, found %d", zero, len(found))
	}
	return found[0].obj.(T), found[0].file
}

func TestManifestsDecodeStrictly(t *testing.T) {
	for _, m := range load(t) {
		var meta metav1.ObjectMeta
		switch o := m.obj.(type) {
		case *kustomization:
			continue
		case *corev1.Namespace:
			if o.Name != namespace {
				t.Errorf("%s: Namespace %q, want %q", m.file, o.Name, namespace)
			}
			continue
		case *podMonitor:
			meta = o.Metadata
		case metav1.Object:
			meta = metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace()}
		}
		if meta.Namespace != namespace {
			t.Errorf("%s: %T %q is in namespace %q, want %q", m.file, m.obj, meta.Name, meta.Namespace, namespace)
		}
	}
}

func TestKustomizationListsEveryResource(t *testing.T) {
	k, _ := only[*kustomization](t, load(t))
	if k.Namespace != namespace {
		t.Errorf("namespace %q, want %q", k.Namespace, namespace)
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(r); err != nil {
			t.Errorf("resource %s: %v", r, err)
		}
	}
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		listed := slices.Contains(k.Resources, f)
		switch f {
		case "kustomization.yaml":
		case "podmonitor.yaml": // needs the Prometheus operator's CRD
			if listed {
				t.Errorf("%s is listed; kubectl apply -k would fail without the PodMonitor CRD", f)
			}
		default:
			if !listed {
				t.Errorf("%s is not listed in kustomization.yaml", f)
			}
		}
	}
}

// setting resolves one spanshipper setting for container c as spanshipper
// sees it: the flag in args, then the container's env (which Kubernetes lets
// override envFrom), then the ConfigMaps of envFrom (later ones win), each
// under the SPANSHIPPER_* name before the upstream alias (SPEC §6).
func setting(c corev1.Container, cms []*corev1.ConfigMap, flagName string, envs ...string) (string, bool) {
	for i, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--"+flagName+"="); ok {
			return v, true
		}
		if a == "--"+flagName && i+1 < len(c.Args) {
			return c.Args[i+1], true
		}
	}
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		for _, cm := range cms {
			if from.ConfigMapRef != nil && from.ConfigMapRef.Name == cm.Name {
				for k, v := range cm.Data {
					env[from.Prefix+k] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for _, name := range envs {
		if v, ok := env[name]; ok && strings.TrimSpace(v) != "" {
			return v, true
		}
	}
	return "", false
}

// TestConfigMapKeysAreSpanshipperVariables: every ConfigMap key is a
// variable spanshipper reads. The list is ../systemd/spanshipper.env, which
// cmd/spanshipper's TestEnvFileDocumentsEveryVariable holds to the flag table,
// so a misspelt key such as SPANSHIPPER_ENDPIONT fails here.
func TestConfigMapKeysAreSpanshipperVariables(t *testing.T) {
	cm, _ := only[*corev1.ConfigMap](t, load(t))
	envFile, err := os.ReadFile("../systemd/spanshipper.env")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(envFile), -1) {
		known[m[1]] = true
	}
	for _, alias := range regexp.MustCompile(`\b(SGP_[A-Z_]+|AGENTEX_[A-Z_]+|STATE_DIRECTORY)\b`).FindAllString(string(envFile), -1) {
		known[alias] = true
	}
	if len(known) < 20 {
		t.Fatalf("only %d variables found in spanshipper.env", len(known))
	}
	for k := range cm.Data {
		switch {
		case k == "SPANSHIPPER_API_KEY" || k == "SGP_API_KEY":
			t.Errorf("ConfigMap holds the API key %s; it belongs in the Secret", k)
		case !known[k]:
			t.Errorf("ConfigMap key %s is no spanshipper variable", k)
		}
	}
}

func TestPodMonitorSelectsTheDaemonSet(t *testing.T) {
	all := load(t)
	pm, _ := only[*podMonitor](t, all)
	ds, _ := only[*appsv1.DaemonSet](t, all)
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("selector %s does not match the pod labels %v", sel, ds.Spec.Template.Labels)
	}
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		if ep.Port != "metrics" || ep.Path != "/metrics" {
			t.Errorf("endpoint %s%s, want port metrics path /metrics", ep.Port, ep.Path)
		}
	}
}

// TestStrictDecodingRejectsMistakes proves the decoding above is strict: the
// same mistakes are accepted silently by a lax decoder.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	data, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelled field", "readinessProbe:", "readinesProbe:", `unknown field "readinesProbe"`},
		{"duplicate field", "terminationGracePeriodSeconds: 30\n",
			"terminationGracePeriodSeconds: 30\n      terminationGracePeriodSeconds: 5\n", "already set"},
		// readOnly belongs to a volume mount, not to the pod spec.
		{"misplaced field", "      enableServiceLinks: false\n",
			"      enableServiceLinks: false\n      readOnly: true\n", `unknown field "readOnly"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(string(data), tc.old) != 1 {
				t.Fatalf("daemonset.yaml has not exactly one %q to change", tc.old)
			}
			bad := []byte(strings.Replace(string(data), tc.old, tc.new, 1))
			if _, err := decodeStrict(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("strict decoding: got error %v, want one with %q", err, tc.want)
			}
			if err := yaml.Unmarshal(bad, &appsv1.DaemonSet{}); err != nil {
				t.Errorf("lax decoding rejected it too (%v); the case proves nothing", err)
			}
		})
	}
	if _, err := decodeStrict(data); err != nil {
		t.Errorf("the unchanged daemonset.yaml: %v", err)
	}
}

func TestUnknownKindFails(t *testing.T) {
	_, err := decodeStrict([]byte("apiVersion: v1\nkind: Pdo\nmetadata:\n  name: x\n"))
	if err == nil {
		t.Error("unknown kind decoded")
	}
}
