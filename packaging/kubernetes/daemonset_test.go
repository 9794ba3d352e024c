package kubernetes

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDaemonSet(t *testing.T) {
	all := load(t)
	ds, _ := only[*appsv1.DaemonSet](t, all)
	var cms []*corev1.ConfigMap
	for _, m := range all {
		if cm, ok := m.obj.(*corev1.ConfigMap); ok {
			cms = append(cms, cm)
		}
	}
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}

	t.Run("metrics port and probes", func(t *testing.T) {
		var port int32
		for _, p := range c.Ports {
			if p.Name == "metrics" {
				port = p.ContainerPort
			}
		}
		if port == 0 {
			t.Fatal("no containerPort named metrics")
		}
		listen, _ := setting(c, cms, "listen", "SPANSHIPPER_LISTEN")
		host, p, err := net.SplitHostPort(listen)
		if err != nil || p != strconv.Itoa(int(port)) {
			t.Errorf("--listen %q does not serve containerPort metrics %d", listen, port)
		}
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			t.Errorf("--listen %q is loopback: the kubelet's probes cannot reach it", listen)
		}
		for _, pr := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
			if pr.probe == nil || pr.probe.HTTPGet == nil {
				t.Errorf("%s probe: want GET %s", pr.name, pr.path)
				continue
			}
			if g := pr.probe.HTTPGet; g.Path != pr.path || g.Port.String() != "metrics" {
				t.Errorf("%s probe: GET %s on port %s, want %s on metrics", pr.name, g.Path, g.Port.String(), pr.path)
			}
		}
	})

	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}

	t.Run("span files from a read-only hostPath", func(t *testing.T) {
		paths, ok := setting(c, cms, "path", "SPANSHIPPER_PATH")
		if !ok {
			t.Fatal("no --path or SPANSHIPPER_PATH")
		}
		for _, glob := range strings.Split(paths, ",") {
			glob = strings.TrimSpace(glob)
			var m *corev1.VolumeMount
			for mp, vm := range mounts {
				if strings.HasPrefix(glob, mp+"/") {
					m = &vm
				}
			}
			if m == nil {
				t.Errorf("glob %q is under no volume mount", glob)
				continue
			}
			if !m.ReadOnly {
				t.Errorf("mount %s of the span files is not readOnly", m.MountPath)
			}
			if volumes[m.Name].HostPath == nil {
				t.Errorf("volume %s of the span files is not a hostPath", m.Name)
			}
		}
	})

	t.Run("state dir on a writable hostPath", func(t *testing.T) {
		dir, ok := setting(c, cms, "state-dir", "SPANSHIPPER_STATE_DIR", "STATE_DIRECTORY")
		if !ok {
			dir = "/var/lib/spanshipper" // SPEC §6 default
		}
		m, ok := mounts[dir]
		if !ok {
			t.Fatalf("state dir %s is not a volume mount: checkpoints would die with the pod", dir)
		}
		if m.ReadOnly {
			t.Errorf("state dir %s is mounted readOnly", dir)
		}
		if volumes[m.Name].HostPath == nil {
			t.Errorf("state volume %s is not a hostPath: checkpoints would die with the pod", m.Name)
		}
	})

	t.Run("security context", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatal("container has no securityContext")
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil && pod.SecurityContext != nil {
			nonRoot = pod.SecurityContext.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			t.Error("runAsNonRoot is not true")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Error("capabilities do not drop ALL")
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		limit, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			t.Fatal("no memory limit")
		}
		if limit.Cmp(resource.MustParse("64Mi")) < 0 {
			t.Errorf("memory limit %s is below 64Mi (peak RSS measured at 21MiB)", limit.String())
		}
		if req, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok || req.Cmp(limit) > 0 {
			t.Errorf("memory request %s missing or above the limit %s", req.String(), limit.String())
		}
	})

	t.Run("grace period above shutdown timeout", func(t *testing.T) {
		timeout := 10 * time.Second // SPEC §7 default
		if v, ok := setting(c, cms, "shutdown-timeout", "SPANSHIPPER_SHUTDOWN_TIMEOUT"); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("shutdown timeout %q: %v", v, err)
			}
			timeout = d
		}
		grace := 30 * time.Second // the Kubernetes default
		if g := pod.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		if grace <= timeout {
			t.Errorf("terminationGracePeriodSeconds %v is not above the shutdown timeout %v: SIGKILL would cut the final flush", grace, timeout)
		}
	})

	t.Run("API key from the Secret", func(t *testing.T) {
		secret, _ := only[*corev1.Secret](t, all)
		var ref *corev1.SecretKeySelector
		for _, e := range c.Env {
			if e.Name == "SPANSHIPPER_API_KEY" && e.ValueFrom != nil {
				ref = e.ValueFrom.SecretKeyRef
			}
		}
		if ref == nil {
			t.Fatal("SPANSHIPPER_API_KEY is not set from a secretKeyRef")
		}
		_, inData := secret.Data[ref.Key]
		_, inStringData := secret.StringData[ref.Key]
		if ref.Name != secret.Name || !(inData || inStringData) {
			t.Errorf("secretKeyRef %s/%s does not name Secret %s and one of its keys", ref.Name, ref.Key, secret.Name)
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef == nil || !slices.ContainsFunc(cms, func(cm *corev1.ConfigMap) bool { return cm.Name == from.ConfigMapRef.Name }) {
				t.Errorf("envFrom %+v names no ConfigMap of these manifests", from)
			}
		}
	})
}
