package checkpoint

import (
	"os"
	"path/filepath"
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
		if err := WriteFileAtomic(p, ".f-", []byte(content), 0o600); err != nil {
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
