package sink

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func put(t *testing.T, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/v5/spans/batch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "key")
	req.Header.Set("x-selected-account-id", "acct")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mkItem(id, name, end string) string {
	e := ""
	if end != "" {
		e = `,"end_timestamp":"` + end + `"`
	}
	return fmt.Sprintf(`{"id":"%s","trace_id":"t","name":"%s","start_timestamp":"2026-11-25T10:00:00Z"%s}`, id, name, e)
}

func items(its ...string) string { return `{"items":[` + strings.Join(its, ",") + `]}` }

func stats(t *testing.T, url string) Stats {
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Stats
	json.NewDecoder(resp.Body).Decode(&s)
	return s
}

func spans(t *testing.T, url string) []string {
	resp, err := http.Get(url + "/spans")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Fields(string(b))
}

func TestStoreAndUpsert(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	done := mkItem("a", "n", "2026-11-25T10:00:01Z")
	if code, body := put(t, srv.URL, items(mkItem("a", "n", ""), done, mkItem("a", "n", ""), mkItem("b", "n", ""))); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	// An in-progress repeat in a later request does not replace the completed span.
	put(t, srv.URL, items(mkItem("a", "n", "")))
	got := spans(t, srv.URL)
	if len(got) != 2 || got[0] != done {
		t.Fatalf("spans %v", got)
	}
	s := stats(t, srv.URL)
	if s.DupInRequest != 2 || s.Stored != 2 || s.Completed != 1 || s.InProgress != 1 || s.ItemsReceived != 5 || s.MaxItemsInRequest != 4 {
		t.Fatalf("stats %+v", s)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/reset", nil)
	http.DefaultClient.Do(req)
	if len(spans(t, srv.URL)) != 0 || stats(t, srv.URL).Requests != 0 {
		t.Fatal("reset kept data")
	}
}

func TestValidation(t *testing.T) {
	many := make([]string, MaxItems+1)
	for i := range many {
		many[i] = mkItem(fmt.Sprint(i), "n", "")
	}
	cases := []struct {
		name string
		body string
		hdr  []string
		code int
	}{
		{"over 1000 items", items(many...), nil, 422},
		{"missing name", items(`{"id":"a","trace_id":"t","start_timestamp":"2026-11-25T10:00:00Z"}`), nil, 422},
		{"missing trace_id", items(`{"id":"a","name":"n","start_timestamp":"2026-11-25T10:00:00Z"}`), nil, 422},
		{"missing start", items(`{"id":"a","trace_id":"t","name":"n"}`), nil, 422},
		{"end before start", items(mkItem("a", "n", "2026-11-24T10:00:00Z")), nil, 422},
		{"one bad item fails the batch", items(mkItem("ok", "n", ""), `{"id":"a"}`), nil, 422},
		{"not items", `[1]`, nil, 400},
		{"wrong key", items(mkItem("a", "n", "")), []string{"x-api-key", "nope"}, 401},
		{"wrong account", items(mkItem("a", "n", "")), []string{"x-selected-account-id", "other"}, 403},
		{"not json", items(mkItem("a", "n", "")), []string{"Content-Type", "text/plain"}, 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{APIKey: "key", AccountID: "acct"}))
			defer srv.Close()
			if code, body := put(t, srv.URL, c.body, c.hdr...); code != c.code {
				t.Fatalf("status %d (%s), want %d", code, body, c.code)
			}
			if len(spans(t, srv.URL)) != 0 {
				t.Fatal("stored items of a rejected request")
			}
		})
	}
}

func TestGzip(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(items(mkItem("a", "n", "2026-11-25T10:00:01+00:00"))))
	zw.Close()
	if code, body := put(t, srv.URL, buf.String(), "Content-Encoding", "gzip"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if len(spans(t, srv.URL)) != 1 {
		t.Fatal("gzip body not stored")
	}
}

func TestFaults(t *testing.T) {
	srv := httptest.NewServer(New(Config{Faults: Faults{PoisonName: "bad"}}))
	defer srv.Close()
	if code, _ := put(t, srv.URL, items(mkItem("a", "good", ""), mkItem("b", "bad", ""))); code != 422 {
		t.Fatalf("poison: %d", code)
	}
	if code, _ := put(t, srv.URL, items(mkItem("a", "good", ""))); code != 200 {
		t.Fatalf("clean batch: %d", code)
	}
	// Faults replaced at run time: an outage, then every request failing.
	setFaults := func(f Faults) {
		b, _ := json.Marshal(f)
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/admin/faults", bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("set faults: %v", err)
		}
	}
	setFaults(Faults{Outage: true})
	if code, _ := put(t, srv.URL, items(mkItem("a", "good", ""))); code != 503 {
		t.Fatalf("outage: %d", code)
	}
	setFaults(Faults{FailFraction: 1, Seed: 3})
	seen := map[string]int{}
	for range 60 {
		code, body := put(t, srv.URL, items(mkItem("a", "good", "")))
		switch code {
		case 0:
			seen["reset"]++
		case 500, 503, 429:
			seen[fmt.Sprint(code)]++
		default:
			t.Fatalf("unexpected %d %s", code, body)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("fault kinds %v", seen)
	}
	resp, _ := http.Get(srv.URL + "/admin/faults")
	var f Faults
	json.NewDecoder(resp.Body).Decode(&f)
	if f.FailFraction != 1 {
		t.Fatalf("faults %+v", f)
	}
	if s := stats(t, srv.URL); s.FaultsInjected != 62 || s.Status["reset"] != int64(seen["reset"]) {
		t.Fatalf("stats %+v", s)
	}
}
