package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildPackages runs `make package` into a temporary directory once per test
// binary and returns the .deb and the .rpm.
func buildPackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	dist := t.TempDir()
	run(t, repoRoot(t), "make", "package", "DIST="+dist, "VERSION=v1.4.2")
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package made %v %v, want one .deb and one .rpm", debs, rpms)
	}
	return debs[0], rpms[0]
}

// wantFiles are the installed files, with their modes as ls prints them.
var wantFiles = map[string]string{
	"/usr/bin/spanshipper":                        "-rwxr-xr-x",
	"/usr/lib/systemd/system/spanshipper.service": "-rw-r--r--",
	"/etc/spanshipper/spanshipper.env":            "-rw-r-----",
}

func checkScripts(t *testing.T, kind, postinst, prerm string) {
	t.Helper()
	for _, want := range []string{"useradd --system", "groupadd --system", "chgrp spanshipper /etc/spanshipper/spanshipper.env", "daemon-reload"} {
		if !strings.Contains(postinst, want) {
			t.Errorf("%s post-install script lacks %q", kind, want)
		}
	}
	if !strings.Contains(prerm, "disable --now spanshipper.service") {
		t.Errorf("%s pre-remove script does not stop the service", kind)
	}
}

// TestDebContents: the .deb holds the binary, the unit and the environment
// file (a conffile, so edits survive upgrades) with the right modes, its
// version comes from the tag, and its post-install script creates the user.
func TestDebContents(t *testing.T) {
	dpkgDeb := requireTool(t, "dpkg-deb", "dpkg")
	deb, _ := buildPackages(t)
	listing := run(t, ".", dpkgDeb, "--contents", deb)
	t.Logf("dpkg-deb --contents %s:\n%s", filepath.Base(deb), listing)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		path := strings.TrimPrefix(f[len(f)-1], ".")
		got[strings.TrimSuffix(path, "/")] = f[0]
		if f[1] != "root/root" {
			t.Errorf("%s owned by %s, want root/root", path, f[1])
		}
	}
	for p, mode := range wantFiles {
		if got[p] != mode {
			t.Errorf("%s: mode %q, want %q", p, got[p], mode)
		}
	}
	for p, mode := range got {
		if mode[0] != 'd' && wantFiles[p] == "" {
			t.Errorf("unexpected file %s in the .deb", p)
		}
	}
	if v := strings.TrimSpace(run(t, ".", dpkgDeb, "--field", deb, "Version")); v != "1.4.2-1" {
		t.Errorf("Version %q, want 1.4.2-1", v)
	}
	ctl := t.TempDir()
	run(t, ".", dpkgDeb, "--control", deb, ctl)
	conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if strings.TrimSpace(string(conffiles)) != "/etc/spanshipper/spanshipper.env" {
		t.Errorf("conffiles = %q, want the environment file", conffiles)
	}
	postinst, _ := os.ReadFile(filepath.Join(ctl, "postinst"))
	prerm, _ := os.ReadFile(filepath.Join(ctl, "prerm"))
	checkScripts(t, "deb", string(postinst), string(prerm))

	// The packaged binary is the release build: it runs and says its version.
	root := t.TempDir()
	run(t, ".", dpkgDeb, "--extract", deb, root)
	if out := run(t, ".", filepath.Join(root, "usr/bin/spanshipper"), "version"); !strings.Contains(out, "spanshipper v1.4.2 ") {
		t.Errorf("packaged binary: version %q", out)
	}
}

// TestRpmContents: the same for the .rpm.
func TestRpmContents(t *testing.T) {
	rpmTool := requireTool(t, "rpm", "rpm")
	_, rpm := buildPackages(t)
	dump := run(t, ".", rpmTool, "--query", "--package", "--dump", rpm)
	t.Logf("rpm -qp --dump %s:\n%s", filepath.Base(rpm), dump)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		// path size mtime digest mode owner group isconfig isdoc rdev symlink
		f := strings.Fields(line)
		got[f[0]] = f[4][len(f[4])-4:]
		if f[5] != "root" || f[6] != "root" {
			t.Errorf("%s owned by %s:%s, want root:root", f[0], f[5], f[6])
		}
		if isConfig := f[7] == "1"; isConfig != (f[0] == "/etc/spanshipper/spanshipper.env") {
			t.Errorf("%s: config flag %s", f[0], f[7])
		}
	}
	perm := map[string]string{"-rwxr-xr-x": "0755", "-rw-r--r--": "0644", "-rw-r-----": "0640"}
	for p, mode := range wantFiles {
		if got[p] != perm[mode] {
			t.Errorf("%s: mode %q, want %q", p, got[p], perm[mode])
		}
	}
	for p := range got {
		if _, ok := wantFiles[p]; !ok && p != "/etc/spanshipper" {
			t.Errorf("unexpected file %s in the .rpm", p)
		}
	}
	if v := run(t, ".", rpmTool, "--query", "--package", "--queryformat", "%{VERSION}-%{RELEASE}", rpm); v != "1.4.2-1" {
		t.Errorf("version %q, want 1.4.2-1", v)
	}
	scripts := run(t, ".", rpmTool, "--query", "--package", "--scripts", rpm)
	post := regexp.MustCompile(`(?s)postinstall scriptlet.*?\n(.*?)(?:\n\w+ scriptlet|$)`).FindStringSubmatch(scripts)
	pre := regexp.MustCompile(`(?s)preuninstall scriptlet.*?\n(.*?)(?:\n\w+ scriptlet|$)`).FindStringSubmatch(scripts)
	if post == nil || pre == nil {
		t.Fatalf("rpm scripts:\n%s", scripts)
	}
	checkScripts(t, "rpm", post[1], pre[1])
}
