package packaging

import (
	"debug/elf"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/sink"
	"github.com/spanshipper/spanshipper/spangen"
)

// TestStaticBinaryRunsInAnEmptyRoot: the release build (`make build`, as the
// packages and the container image take it) is a static executable — no
// program interpreter, no shared libraries — and ships spans from inside a
// root holding nothing but itself and the span file: no libc, no
// /etc/passwd, no resolv.conf, no CA bundle, no time zone files.
func TestStaticBinaryRunsInAnEmptyRoot(t *testing.T) {
	bin := t.TempDir()
	run(t, repoRoot(t), "make", "build", "BIN="+bin, "VERSION=v9.9.9")
	exe := filepath.Join(bin, "spanshipper")

	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked", exe)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v)", exe, libs, err)
	}
	f.Close()

	root := t.TempDir()
	copyFile(t, exe, filepath.Join(root, "spanshipper"), 0o755)
	os.MkdirAll(filepath.Join(root, "logs"), 0o755)
	os.MkdirAll(filepath.Join(root, "state"), 0o755)
	w := &spangen.Writer{Path: filepath.Join(root, "logs", "agent.jsonl")}
	g := spangen.New(spangen.Options{Seed: 9, Spans: 500})
	if err := w.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	ends := g.Stats().Ends

	s := sink.New(sink.Config{})
	srv := httptest.NewServer(s) // 127.0.0.1; the chroot shares the network
	defer srv.Close()

	inRoot := func(args ...string) (string, error) {
		cmd := exec.Command("/spanshipper", args...)
		cmd.Env = []string{} // nothing inherited
		cmd.SysProcAttr = chrootAttr(root)
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		cmd.Dir = "/"
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				if cmd.Process != nil {
					cmd.Process.Kill()
				}
			}
		}()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := inRoot("version")
	if err != nil || !strings.Contains(out, "spanshipper v9.9.9 (commit ") {
		t.Fatalf("version in an empty root: %v\n%s", err, out)
	}
	out, err = inRoot("--path", "/logs/*.jsonl", "--endpoint", srv.URL, "--state-dir", "/state",
		"--listen", "127.0.0.1:0", "--exit-on-eof", "--log-format", "json")
	if err != nil {
		t.Fatalf("shipping in an empty root: %v\n%s", err, out)
	}
	st := s.Stats()
	if st.Completed != int64(ends) || st.InProgress != 0 {
		t.Errorf("receiver holds %d completed, %d in progress; want %d completed\n%s", st.Completed, st.InProgress, ends, out)
	}
	b, err := os.ReadFile(filepath.Join(root, "state", "checkpoint.json"))
	if err != nil || !json.Valid(b) {
		t.Errorf("no valid checkpoint written in the empty root: %v", err)
	}
}

// chrootAttr runs a child with root as its /: by chroot(2) directly when
// this process may, else inside a new user namespace where it may.
func chrootAttr(root string) *syscall.SysProcAttr {
	if os.Geteuid() == 0 {
		return &syscall.SysProcAttr{Chroot: root}
	}
	return &syscall.SysProcAttr{
		Chroot:      root,
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
