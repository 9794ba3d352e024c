package kubernetes

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// runtimeOwned are host trees the container runtime and kubelet create and
// write. spanshipper mounts them read-only with hostPath type Directory: a
// missing one is a misconfigured node, not something to create empty.
var runtimeOwned = []string{"/var/log/pods", "/var/lib/docker/containers"}

// TestDaemonSet checks the DaemonSet as applied — the base and the base with
// every combination of components — against what spanshipper needs.
func TestDaemonSet(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) { checkDaemonSet(t, v) })
	}
}

// spanshipperContainer returns the DaemonSet's one container.
func spanshipperContainer(t *testing.T, ds *appsv1.DaemonSet) corev1.Container {
	t.Helper()
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	return pod.Containers[0]
}

func checkDaemonSet(t *testing.T, v variant) {
	ds, cms := v.ds, v.cms
	pod := ds.Spec.Template.Spec
	c := spanshipperContainer(t, ds)
	volumes := map[string]corev1.Volume{}
	for _, vol := range pod.Volumes {
		volumes[vol.Name] = vol
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
	stateDir, ok := setting(c, cms, "state-dir", "SPANSHIPPER_STATE_DIR", "STATE_DIRECTORY")
	if !ok {
		stateDir = "/var/lib/spanshipper" // SPEC §6 default
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

	t.Run("every mount but the state dir is read-only", func(t *testing.T) {
		for _, m := range c.VolumeMounts {
			if m.MountPath != stateDir && !m.ReadOnly {
				t.Errorf("mount %s is writable; only the state dir %s needs to be", m.MountPath, stateDir)
			}
			hp := volumes[m.Name].HostPath
			if hp == nil {
				continue
			}
			// The same path as on the host: docker's symlinks in
			// /var/log/pods resolve, and paths in logs match the node's.
			if hp.Path != m.MountPath {
				t.Errorf("hostPath %s is mounted at %s; mount it at the same path", hp.Path, m.MountPath)
			}
			if slices.Contains(runtimeOwned, hp.Path) && (hp.Type == nil || *hp.Type != corev1.HostPathDirectory) {
				t.Errorf("hostPath %s: type %v, want Directory (read-only; the runtime creates it)", hp.Path, hp.Type)
			}
		}
	})

	t.Run("state dir on a writable hostPath", func(t *testing.T) {
		m, ok := mounts[stateDir]
		if !ok {
			t.Fatalf("state dir %s is not a volume mount: checkpoints would die with the pod", stateDir)
		}
		if m.ReadOnly {
			t.Errorf("state dir %s is mounted readOnly", stateDir)
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
		// uid 0 without capabilities: privilege_test.go proves it reads the
		// runtimes' root-owned 0640 and 0600 logs and nothing of other users.
		id := identityOf(t, ds)
		if id.uid != 0 {
			t.Errorf("runs as uid %d: it cannot read the runtimes' root-owned 0640/0600 logs", id.uid)
		}
		if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
			t.Error("runAsNonRoot is true, so the kubelet refuses uid 0")
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("privileged is true")
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
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities add %v; reading the logs needs none", sc.Capabilities.Add)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil && pod.SecurityContext != nil {
			seccomp = pod.SecurityContext.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("seccomp profile %v, want RuntimeDefault", seccomp)
		}
		// In a user namespace uid 0 is not the files' owner on the host.
		if pod.HostUsers != nil && !*pod.HostUsers {
			t.Error("hostUsers is false: root in a user namespace cannot read the host's logs")
		}
		if pod.HostPID || pod.HostIPC || pod.HostNetwork {
			t.Error("the pod shares a host namespace (hostPID, hostIPC or hostNetwork)")
		}
	})

	t.Run("init container hands the state dir to the container's uid", func(t *testing.T) {
		id := identityOf(t, ds)
		for _, ic := range pod.InitContainers {
			want := strconv.Itoa(int(id.uid)) + ":" + strconv.Itoa(int(id.gid))
			if len(ic.Command) == 0 || ic.Command[0] != "chown" {
				t.Errorf("init container %s runs %v; expected only the state dir chown", ic.Name, ic.Command)
				continue
			}
			if !slices.Contains(ic.Command, want) || !slices.Contains(ic.Command, stateDir) {
				t.Errorf("init container %s runs %v, want chown -R %s %s", ic.Name, ic.Command, want, stateDir)
			}
			sc := ic.SecurityContext
			if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
				!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"CHOWN"}) {
				t.Errorf("init container %s: capabilities %+v, want drop ALL add CHOWN", ic.Name, sc)
			}
			for _, m := range ic.VolumeMounts {
				if m.MountPath != stateDir {
					t.Errorf("init container %s mounts %s; it needs only the state dir", ic.Name, m.MountPath)
				}
			}
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
		secret := v.secret
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

// TestContainerLogsByDefault: the base follows every container log of the
// node except spanshipper's own.
func TestContainerLogsByDefault(t *testing.T) {
	v := variants(t)[0]
	c := spanshipperContainer(t, v.ds)
	paths, _ := setting(c, v.cms, "path", "SPANSHIPPER_PATH")
	if paths != "/var/log/pods/*/*/*.log" {
		t.Errorf("SPANSHIPPER_PATH %q, want /var/log/pods/*/*/*.log", paths)
	}
	excludes, _ := setting(c, v.cms, "exclude", "SPANSHIPPER_EXCLUDE")
	excluded := func(p string) bool {
		for _, g := range strings.Split(excludes, ",") {
			if ok, _ := filepath.Match(strings.TrimSpace(g), p); ok {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/var/log/pods/" + namespace + "_spanshipper-x7k2p_5c0e4f4e-2b1d-4d7e-9a51-6f0f3c2a9e11/spanshipper/0.log", true},
		{"/var/log/pods/agents_planner-7d9f8-abcde_0f6b0a8e-7c1e-4b43-8f0e-3a2d1c9b8e77/agent/0.log", false},
		{"/var/log/pods/default_web-0_9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d/web/3.log", false},
	} {
		if got := excluded(tc.path); got != tc.want {
			t.Errorf("SPANSHIPPER_EXCLUDE %q excludes %s: %v, want %v", excludes, tc.path, got, tc.want)
		}
	}
}

// identity is the uid, gid and supplementary groups a container runs with.
type identity struct {
	uid, gid int64
	groups   []int64
}

// identityOf resolves the spanshipper container's identity as the kubelet
// does: the container's securityContext over the pod's. The image's USER is
// not consulted, so the manifest must state both ids.
func identityOf(t *testing.T, ds *appsv1.DaemonSet) identity {
	t.Helper()
	c := spanshipperContainer(t, ds)
	psc := ds.Spec.Template.Spec.SecurityContext
	var uid, gid *int64
	var id identity
	if psc != nil {
		uid, gid, id.groups = psc.RunAsUser, psc.RunAsGroup, psc.SupplementalGroups
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	if uid == nil || gid == nil {
		t.Fatal("runAsUser or runAsGroup is not set: the identity would depend on the image")
	}
	id.uid, id.gid = *uid, *gid
	return id
}

// TestDocumentedGlobs: every SPANSHIPPER_PATH or SPANSHIPPER_EXCLUDE value
// the docs and the ConfigMap's comments suggest is a valid glob under a
// directory the DaemonSet (or a component) mounts.
func TestDocumentedGlobs(t *testing.T) {
	re := regexp.MustCompile(`SPANSHIPPER_(?:PATH|EXCLUDE)[:=] ?["']([^"']+)["']`)
	n := 0
	for _, f := range []string{"README.md", "configmap.yaml", "../../README.md"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			for _, g := range strings.Split(m[1], ",") {
				n++
				if _, err := filepath.Match(g, ""); err != nil {
					t.Errorf("%s: %q: %v", f, g, err)
				}
				if !strings.HasPrefix(g, "/var/log/pods/") && !strings.HasPrefix(g, "/var/log/agents/") {
					t.Errorf("%s: %q lies under no mount of the DaemonSet or its components", f, g)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d documented globs; has the docs' syntax changed?", n)
	}
}
