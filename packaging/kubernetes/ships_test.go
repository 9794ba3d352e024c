package kubernetes

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/spanshipper/spanshipper/sink"
)

// TestShipsAsTheDaemonSetRuns runs the real spanshipper as the DaemonSet
// does — the container's identity with every capability set empty and
// no_new_privs, the ConfigMap's and the container's settings with the host
// paths moved under a temporary root — on container logs written as the
// runtimes write them (root-owned; CRI 0640 and 0600, docker json-file 0640
// behind a /var/log/pods symlink; spans mixed with application logs, one split
// into 16 KiB records) and a state dir owned by root as kubelet creates it.
// Every span-end record of the followed pods arrives once with its pod's
// metadata, none of spanshipper's own (excluded) pod, and the checkpoint is
// written. A state dir left owned by uid 65532 by an earlier release stops it
// until it is chowned back to root, which is the init container's job.
func TestShipsAsTheDaemonSetRuns(t *testing.T) {
	all := load(t)
	ds, _ := only[*appsv1.DaemonSet](t, all)
	cm, _ := only[*corev1.ConfigMap](t, all)
	c := spanshipperContainer(t, ds)
	id := identityOf(t, ds)
	setpriv := requireTool(t, "setpriv", "util-linux")
	if os.Geteuid() != 0 {
		missing(t, "not root: cannot create root-owned files or run as another uid")
	}

	bin := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/spanshipper")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	host := t.TempDir() // stands for the node's /
	pods := newPodLogs(t, host)
	pods.write("agents_planner-0_0f6b0a8e-7c1e-4b43-8f0e-3a2d1c9b8e77", "agent", "cri", 0o640, 1)          // containerd
	pods.write("team-b_worker-5d8c9-x2x7q_7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "agent", "cri", 0o600, 2) // CRI-O
	pods.write("web_web-0_9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "app", "docker", 0o640, 3)                // docker
	pods.write(namespace+"_spanshipper-x7k2p_5c0e4f4e-2b1d-4d7e-9a51-6f0f3c2a9e11", "spanshipper", "cri", 0o640, 4)

	s := sink.New(sink.Config{})
	srv := httptest.NewServer(s) // 127.0.0.1
	defer srv.Close()

	// The environment the container gets, host paths under host.
	env := map[string]string{}
	for k, v := range cm.Data {
		env[k] = v
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	for _, k := range []string{"SPANSHIPPER_PATH", "SPANSHIPPER_EXCLUDE"} {
		var globs []string
		for _, g := range strings.Split(env[k], ",") {
			globs = append(globs, host+strings.TrimSpace(g))
		}
		env[k] = strings.Join(globs, ",")
	}
	state := host + env["SPANSHIPPER_STATE_DIR"]
	env["SPANSHIPPER_STATE_DIR"] = state
	env["SPANSHIPPER_ENDPOINT"] = srv.URL
	env["SPANSHIPPER_API_KEY"] = "test-key"
	env["SPANSHIPPER_ACCOUNT_ID"] = "test-account"
	env["SPANSHIPPER_EXIT_ON_EOF"] = "true"
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}

	run := func() (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, setpriv, privilegeArgs(id, filepath.Join(bin, "spanshipper"),
			"--listen=127.0.0.1:0")...) // not the manifest's 0.0.0.0:9464: loopback only
		cmd.Env = environ
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// An earlier release's state dir: owned by 65532, mode 0755.
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nonRootUID, nonRootUID); err != nil {
		t.Fatal(err)
	}
	out, err := run()
	if err == nil || !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		return strings.Contains(l, state+"/") && strings.Contains(l, "permission denied")
	}) {
		t.Errorf("with a state dir owned by %d: %v, want permission denied in %s\n%s", nonRootUID, err, state, out)
	}
	if err := os.Chown(state, 0, 0); err != nil { // what chown-state-dir does
		t.Fatal(err)
	}

	out, err = run()
	if err != nil {
		t.Fatalf("spanshipper with the DaemonSet's privilege and settings: %v\n%s", err, out)
	}
	pods.check(t, s, out)
	b, err := os.ReadFile(filepath.Join(state, "checkpoint.json"))
	if err != nil || !json.Valid(b) {
		t.Errorf("no valid checkpoint written: %v", err)
	}
}
