package kubernetes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// requireTool returns the path of an external program a test needs. Where
// it is missing the test is skipped, unless SPANSHIPPER_REQUIRE_TOOLS=1
// (set by .ci/run, which installs them): then it fails.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, name+" not found (Debian package "+debianPackage+"; .ci/run installs it)")
	return ""
}

// missing skips the test for want of something, or fails it under
// SPANSHIPPER_REQUIRE_TOOLS=1.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("SPANSHIPPER_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// nonRootUID is the uid of a non-root user, the one the DaemonSet of
// earlier releases ran as.
const nonRootUID = 65532

// TestPrivilegeReadsContainerLogs proves the securityContext's claim with
// real processes: one with the DaemonSet container's identity and no
// capabilities at all (every set empty, no_new_privs) reads log files written
// the way the runtimes write them — root-owned, containerd and docker 0640,
// CRI-O 0600 — and cannot read another user's 0600 file (no DAC override),
// while a non-root uid reads neither runtime's logs, and group root reads
// only the 0640 ones. setpriv (util-linux) drops the privilege as the
// container runtime does; creating root-owned files and changing uid need
// root.
func TestPrivilegeReadsContainerLogs(t *testing.T) {
	ds, _ := only[*appsv1.DaemonSet](t, load(t))
	c := spanshipperContainer(t, ds)
	if sc := c.SecurityContext; sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 {
		t.Fatal("the container must drop every capability and add none; this test runs it without any")
	}
	manifest := identityOf(t, ds)
	setpriv := requireTool(t, "setpriv", "util-linux")
	cat := requireTool(t, "cat", "coreutils")
	if os.Geteuid() != 0 {
		missing(t, "not root: cannot create root-owned files or run as another uid")
	}

	// A node's log tree: every directory 0755 like kubelet's, so a denial
	// below comes from a file's mode, never from a directory on the way.
	root := t.TempDir()
	for d := root; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "var/log/pods/agents_planner-0_0f6b0a8e-7c1e-4b43-8f0e-3a2d1c9b8e77/agent")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	containerd := file("0.log", 0o640, 0)     // containerd's openLogFile, docker's json-file
	crio := file("1.log", 0o600, 0)           // CRI-O's conmon
	world := file("2.log", 0o644, 0)          // control: readable by all
	other := file("other", 0o600, nonRootUID) // another user's private file

	type run struct {
		who  string
		id   identity
		path string
		read bool
	}
	nonRoot := identity{uid: nonRootUID, gid: nonRootUID}
	groupRoot := identity{uid: nonRootUID, gid: nonRootUID, groups: []int64{0}}
	for _, r := range []run{
		{"the manifest's identity", manifest, containerd, true},
		{"the manifest's identity", manifest, crio, true},
		{"the manifest's identity", manifest, world, true},
		{"the manifest's identity", manifest, other, false},
		{"a non-root uid", nonRoot, world, true},
		{"a non-root uid", nonRoot, containerd, false},
		{"a non-root uid", nonRoot, crio, false},
		{"a non-root uid in group root", groupRoot, containerd, true},
		{"a non-root uid in group root", groupRoot, crio, false},
	} {
		out, err := asUnprivileged(t, setpriv, r.id, cat, r.path)
		switch {
		case r.read && err != nil:
			t.Errorf("%s (%+v) cannot read %s: %v\n%s", r.who, r.id, filepath.Base(r.path), err, out)
		case !r.read && err == nil:
			t.Errorf("%s (%+v) reads %s, which it must not", r.who, r.id, filepath.Base(r.path))
		case !r.read && !strings.Contains(out, "Permission denied"):
			t.Errorf("%s (%+v) fails on %s for another reason than permission: %v\n%s", r.who, r.id, filepath.Base(r.path), err, out)
		}
	}

	// The process really had no privilege: uid 0, every capability set
	// empty, no_new_privs.
	status, err := asUnprivileged(t, setpriv, manifest, cat, "/proc/self/status")
	if err != nil {
		t.Fatalf("%v\n%s", err, status)
	}
	fields := map[string]string{}
	for line := range strings.Lines(status) {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.TrimSpace(v)
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if fields[k] != "0000000000000000" {
			t.Errorf("%s %q, want none", k, fields[k])
		}
	}
	if fields["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs %q, want 1", fields["NoNewPrivs"])
	}
	if uids := strings.Fields(fields["Uid"]); len(uids) == 0 || uids[0] != strconv.FormatInt(manifest.uid, 10) {
		t.Errorf("Uid %q, want %d", fields["Uid"], manifest.uid)
	}
}

// asUnprivileged runs name args with privilegeArgs and returns its output.
func asUnprivileged(t *testing.T, setpriv string, id identity, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, setpriv, privilegeArgs(id, name, args...)...).CombinedOutput()
	return string(out), err
}

// privilegeArgs are setpriv's arguments to run name args as id with every
// capability set emptied and no_new_privs: what a container runtime does for
// capabilities drop ALL and allowPrivilegeEscalation false.
func privilegeArgs(id identity, name string, args ...string) []string {
	groups := "--clear-groups"
	if len(id.groups) > 0 {
		var gs []string
		for _, g := range id.groups {
			gs = append(gs, strconv.FormatInt(g, 10))
		}
		groups = "--groups=" + strings.Join(gs, ",")
	}
	return append([]string{
		"--reuid=" + strconv.FormatInt(id.uid, 10), "--regid=" + strconv.FormatInt(id.gid, 10), groups,
		"--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs",
		"--", name}, args...)
}
