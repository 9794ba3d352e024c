package kubernetes

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// component is the part of kustomize's Component that components/*/
// kustomization.yaml use.
type component struct {
	metav1.TypeMeta `json:",inline"`
	Patches         []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

// variant is the manifests as one would apply them: the base, or the base
// with components.
type variant struct {
	name       string
	components []string
	ds         *appsv1.DaemonSet
	cms        []*corev1.ConfigMap
	secret     *corev1.Secret
}

// componentDirs lists the directories under components/.
func componentDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("components")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no components")
	}
	return dirs
}

// variants returns the base (first) and the base with each component and
// with all of them, merged the way kustomize merges the components' patches
// (TestComponentsMatchKustomize compares with kustomize itself).
func variants(t *testing.T) []variant {
	t.Helper()
	dirs := componentDirs(t)
	sets := [][]string{nil}
	for _, d := range dirs {
		sets = append(sets, []string{d})
	}
	if len(dirs) > 1 {
		sets = append(sets, dirs)
	}
	var out []variant
	for _, set := range sets {
		all := load(t)
		ds, _ := only[*appsv1.DaemonSet](t, all)
		cm, _ := only[*corev1.ConfigMap](t, all)
		secret, _ := only[*corev1.Secret](t, all)
		for _, d := range set {
			for _, p := range loadComponent(t, d) {
				switch p := p.(type) {
				case *appsv1.DaemonSet:
					patchDaemonSet(t, ds, p)
				case *corev1.ConfigMap:
					patchConfigMap(t, cm, p)
				default:
					t.Fatalf("component %s patches a %T; teach patch* to merge it", d, p)
				}
			}
		}
		name := strings.Join(set, "+")
		if name == "" {
			name = "base"
		}
		out = append(out, variant{name, set, ds, []*corev1.ConfigMap{cm}, secret})
	}
	return out
}

// loadComponent decodes components/<dir>/kustomization.yaml and its patches
// strictly.
func loadComponent(t *testing.T, dir string) []any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("components", dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(data)
	if err != nil {
		t.Fatalf("components/%s/kustomization.yaml: %v", dir, err)
	}
	c, ok := obj.(*component)
	if !ok {
		t.Fatalf("components/%s/kustomization.yaml is a %T, want a Component", dir, obj)
	}
	var patches []any
	for _, p := range c.Patches {
		data, err := os.ReadFile(filepath.Join("components", dir, p.Path))
		if err != nil {
			t.Fatal(err)
		}
		patch, err := decodeStrict(data)
		if err != nil {
			t.Fatalf("components/%s/%s: %v", dir, p.Path, err)
		}
		if m, ok := patch.(metav1.Object); !ok || m.GetName() != "spanshipper" || m.GetNamespace() != namespace {
			t.Fatalf("components/%s/%s does not name spanshipper in namespace %s", dir, p.Path, namespace)
		}
		patches = append(patches, patch)
	}
	return patches
}

// mergeByKey adds patch's items to base, replacing those with the same key.
func mergeByKey[T any](base, patch []T, key func(T) string) []T {
	for _, p := range patch {
		i := slices.IndexFunc(base, func(b T) bool { return key(b) == key(p) })
		if i >= 0 {
			base[i] = p
		} else {
			base = append(base, p)
		}
	}
	return base
}

// patchDaemonSet merges a strategic-merge patch into ds for the fields the
// components use — pod volumes, and each container's volume mounts and env —
// and fails on any other field rather than ignore it.
func patchDaemonSet(t *testing.T, ds, patch *appsv1.DaemonSet) {
	t.Helper()
	rest := patch.DeepCopy()
	rest.TypeMeta, rest.ObjectMeta = metav1.TypeMeta{}, metav1.ObjectMeta{}
	pod, ps := &ds.Spec.Template.Spec, &rest.Spec.Template.Spec
	pod.Volumes = mergeByKey(pod.Volumes, ps.Volumes, func(v corev1.Volume) string { return v.Name })
	ps.Volumes = nil
	for _, pc := range ps.Containers {
		i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == pc.Name })
		if i < 0 {
			t.Fatalf("patch names container %q, which the DaemonSet lacks", pc.Name)
		}
		c := &pod.Containers[i]
		c.VolumeMounts = mergeByKey(c.VolumeMounts, pc.VolumeMounts, func(m corev1.VolumeMount) string { return m.MountPath })
		c.Env = mergeByKey(c.Env, pc.Env, func(e corev1.EnvVar) string { return e.Name })
		if !reflect.DeepEqual(corev1.Container{Name: pc.Name, VolumeMounts: pc.VolumeMounts, Env: pc.Env}, pc) {
			t.Fatalf("patch of container %s sets fields patchDaemonSet does not merge: %+v", pc.Name, pc)
		}
	}
	ps.Containers = nil
	if !reflect.DeepEqual(*rest, appsv1.DaemonSet{}) {
		t.Fatalf("DaemonSet patch sets fields patchDaemonSet does not merge: %+v", rest.Spec)
	}
}

// patchConfigMap merges a patch's data keys into cm.
func patchConfigMap(t *testing.T, cm, patch *corev1.ConfigMap) {
	t.Helper()
	for k, v := range patch.Data {
		cm.Data[k] = v
	}
	rest := patch.DeepCopy()
	rest.TypeMeta, rest.ObjectMeta, rest.Data = metav1.TypeMeta{}, metav1.ObjectMeta{}, nil
	if !reflect.DeepEqual(*rest, corev1.ConfigMap{}) {
		t.Fatalf("ConfigMap patch sets fields other than data: %+v", rest)
	}
}

// TestDockerComponentMountsTheLinkTargets: on docker nodes the files under
// /var/log/pods are symlinks into /var/lib/docker/containers.
func TestDockerComponentMountsTheLinkTargets(t *testing.T) {
	for _, v := range variants(t) {
		if !slices.Contains(v.components, "docker") {
			continue
		}
		c := spanshipperContainer(t, v.ds)
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.MountPath == "/var/lib/docker/containers" && m.ReadOnly
		}) {
			t.Errorf("%s: /var/lib/docker/containers is not mounted read-only", v.name)
		}
	}
}

// TestComponentsAreDocumented: each component is named where operators look
// for it: the commented components list of kustomization.yaml and README.md.
func TestComponentsAreDocumented(t *testing.T) {
	for _, f := range []string{"kustomization.yaml", "README.md"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range componentDirs(t) {
			if !bytes.Contains(data, []byte("components/"+d)) {
				t.Errorf("%s does not mention components/%s", f, d)
			}
		}
	}
}

// TestComponentsMatchKustomize builds each variant with kustomize (kubectl
// kustomize) and compares it with the merge the other tests check. kubectl
// is not a Debian package, so where it is missing this test is skipped even
// in CI; the merge above then stands alone.
func TestComponentsMatchKustomize(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found")
	}
	base, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
				t.Fatal(err)
			}
			k := string(base)
			if len(v.components) > 0 {
				k += "components:\n"
				for _, c := range v.components {
					k += "  - components/" + c + "\n"
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, kubectl, "kustomize", dir).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize: %v", err)
			}
			var ds *appsv1.DaemonSet
			var cm *corev1.ConfigMap
			for i, doc := range splitDocuments(out) {
				obj, err := decodeStrict(doc)
				if err != nil {
					t.Fatalf("kustomize output, document %d: %v", i+1, err)
				}
				switch o := obj.(type) {
				case *appsv1.DaemonSet:
					ds = o
				case *corev1.ConfigMap:
					cm = o
				}
			}
			if ds == nil || cm == nil {
				t.Fatal("kustomize output lacks the DaemonSet or the ConfigMap")
			}
			sortLists(ds)
			want := v.ds.DeepCopy()
			sortLists(want)
			if !reflect.DeepEqual(ds.Spec, want.Spec) {
				t.Errorf("kustomize's DaemonSet differs from the merged one:\n got %+v\nwant %+v", ds.Spec.Template.Spec, want.Spec.Template.Spec)
			}
			if !reflect.DeepEqual(cm.Data, v.cms[0].Data) {
				t.Errorf("kustomize's ConfigMap data %v, merged %v", cm.Data, v.cms[0].Data)
			}
		})
	}
}

// sortLists orders the lists kustomize and patchDaemonSet order differently.
func sortLists(ds *appsv1.DaemonSet) {
	pod := &ds.Spec.Template.Spec
	slices.SortFunc(pod.Volumes, func(a, b corev1.Volume) int { return strings.Compare(a.Name, b.Name) })
	for i := range pod.Containers {
		c := &pod.Containers[i]
		slices.SortFunc(c.VolumeMounts, func(a, b corev1.VolumeMount) int { return strings.Compare(a.MountPath, b.MountPath) })
		slices.SortFunc(c.Env, func(a, b corev1.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	}
}
