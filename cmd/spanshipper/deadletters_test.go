package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/ship"
)

// TestDeadLettersListAndReplay: list summarises; replay removes what the
// backend accepts, keeps what it rejects again (exit 1), and once the
// backend accepts everything leaves an empty file (exit 0). Two letters of
// one span never share a request.
func TestDeadLettersListAndReplay(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(state, "dead-letter.jsonl")
	d, err := ship.OpenDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	var letters []ship.DeadLetter
	for i := range 7 {
		name := "ok"
		if i%3 == 0 {
			name = "poison"
		}
		letters = append(letters, ship.DeadLetter{Time: time.Now().UTC(), Reason: "rejected", Status: 422, Response: `{"detail":"bad"}`,
			File: fmt.Sprintf("/logs/%d.jsonl", i%2), Offset: int64(i * 100),
			Item: json.RawMessage(fmt.Sprintf(`{"id":"s%d","trace_id":"t","name":%q}`, i%6, name))}) // s0 twice
	}
	letters = append(letters, ship.DeadLetter{Reason: "max_retries", File: "/logs/0.jsonl", Item: json.RawMessage(`{"id":"x","trace_id":"t","name":"ok"}`)})
	if err := d.Write(letters); err != nil {
		t.Fatal(err)
	}
	d.Close()

	var out, errb bytes.Buffer
	if code := run([]string{"dead-letters", "list", "--state-dir", state}, bare(), &out, &errb); code != 0 {
		t.Fatalf("list exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"8 dead letters", "422", "none", "rejected", "max_retries", "/logs/0.jsonl", "/logs/1.jsonl", `{"detail":"bad"}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, out.String())
		}
	}

	var rejectPoison atomic.Bool
	rejectPoison.Store(true)
	var dupInRequest atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Items []struct{ ID, Name string } `json:"items"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		seen := map[string]bool{}
		for _, it := range req.Items {
			if seen[it.ID] {
				dupInRequest.Store(true)
			}
			seen[it.ID] = true
			if it.Name == "poison" && rejectPoison.Load() {
				w.WriteHeader(422)
				fmt.Fprint(w, `{"detail":"still bad"}`)
				return
			}
		}
	}))
	defer srv.Close()
	replay := []string{"dead-letters", "replay", "--state-dir", state, "--endpoint", srv.URL}
	out.Reset()
	if code := run(replay, bare(), &out, &errb); code != 1 {
		t.Fatalf("replay exit %d, want 1 (poison rejected again): %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "5 accepted and removed, 3 rejected again and kept; 3 dead letters left") {
		t.Fatalf("replay said: %s", out.String())
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), "still bad") != 3 || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("file after replay:\n%s", b)
	}
	rejectPoison.Store(false)
	out.Reset()
	if code := run(replay, bare(), &out, &errb); code != 0 {
		t.Fatalf("second replay exit %d: %s %s", code, out.String(), errb.String())
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("file not empty:\n%s", b)
	}
	if dupInRequest.Load() {
		t.Fatal("two letters of one span in one request")
	}
	if code := run([]string{"dead-letters", "replay", "--state-dir", state, "--endpoint", "ftp://x"}, bare(), &out, &errb); code != 2 {
		t.Fatalf("bad endpoint: exit %d, want 2", code)
	}
}
