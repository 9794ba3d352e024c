package ship

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func letter(id string) DeadLetter {
	return DeadLetter{Time: time.Unix(1_800_000_000, 0).UTC(), Reason: "rejected", Status: 422, File: "/logs/a.jsonl", Offset: 10,
		Item: json.RawMessage(fmt.Sprintf(`{"id":%q,"trace_id":"t"}`, id))}
}

// TestUpdateDeadLettersWhileAppending: a replay's rewrite keeps every letter
// the agent appends meanwhile, and the agent's appends after the rewrite
// land in the new file, not in the one renamed away.
func TestUpdateDeadLettersWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	d, err := OpenDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 10 {
		if err := d.Write([]DeadLetter{letter(fmt.Sprintf("old%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	// A crash once left a partial line: kept, never counted as a letter.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	d2, err := OpenDeadLetters(path) // repairs the line end
	if err != nil {
		t.Fatal(err)
	}
	d2.Close()

	lines, err := ReadDeadLetters(path)
	if err != nil || len(lines) != 11 || lines[10].OK {
		t.Fatalf("read %d lines (%v), want 10 letters and a partial line", len(lines), err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			if err := d.Write([]DeadLetter{letter(fmt.Sprintf("new%d", i))}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	change := map[string][]byte{}
	for i, l := range lines[:10] {
		if i%2 == 0 {
			change[string(l.Raw)] = nil // accepted
		} else {
			again := l.Letter
			again.Response = "rejected again"
			b, _ := json.Marshal(again)
			change[string(l.Raw)] = b
		}
	}
	for range 5 { // rewrites racing the appends
		if _, err := UpdateDeadLetters(path, change); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	left, err := UpdateDeadLetters(path, nil)
	if err != nil || left != 205 {
		t.Fatalf("%d letters left (%v), want 5 rejected again + 200 appended", left, err)
	}
	b, _ := os.ReadFile(path)
	for i := range 200 {
		if !strings.Contains(string(b), fmt.Sprintf(`"new%d"`, i)) {
			t.Fatalf("letter new%d appended during the rewrites was lost", i)
		}
	}
	if strings.Count(string(b), "rejected again") != 5 || strings.Contains(string(b), `"old0"`) {
		t.Fatalf("changes not applied:\n%s", b)
	}
}
