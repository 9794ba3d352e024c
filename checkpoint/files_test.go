package checkpoint

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestHeld(t *testing.T) {
	dir := t.TempDir()
	if held, err := Held(filepath.Join(dir, "missing")); held || err != nil {
		t.Fatalf("missing dir: held %v, err %v", held, err)
	}
	s, _, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := Held(dir); !held || err != nil {
		t.Fatalf("open store: held %v, err %v", held, err)
	}
	s.Close()
	if held, err := Held(dir); held || err != nil {
		t.Fatalf("closed store: held %v, err %v", held, err)
	}
	// Testing the lock must not take it.
	s, _, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("Held left the lock taken: %v", err)
	}
	s.Close()
}

func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.jsonl")
	for _, content := range []string{"one\n", "two\n"} {
		if err := WriteFileAtomic(p, ".f-", []byte(content), nil); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if string(b) != content {
			t.Fatalf("got %q", b)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

// TestWriteFileAtomicKeepsOwner: a file rewritten by root for a service user
// keeps its owner and mode, so the service can still write it.
func TestWriteFileAtomicKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file away")
	}
	p := filepath.Join(t.TempDir(), "f.jsonl")
	os.WriteFile(p, []byte("old\n"), 0o640)
	os.Chown(p, 65534, 65534)
	like, _ := os.Stat(p)
	if err := WriteFileAtomic(p, ".f-", []byte("new\n"), like); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o640 {
		t.Fatalf("owner %d:%d mode %v, want 65534:65534 0640", st.Uid, st.Gid, fi.Mode().Perm())
	}
}
