package sink

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPoison(t *testing.T) {
	srv := newSink(t, Config{Faults: Faults{PoisonName: "poison"}})
	ans := send(t, srv, batch(item("t", "1", "fine", t1), item("t", "2", "poison", t1)))
	if ans.status != http.StatusUnprocessableEntity || !strings.Contains(ans.body, `"index":1`) || !strings.Contains(ans.body, "poison") {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	if ans := send(t, srv, batch(item("t", "1", "fine", t1))); ans.status != http.StatusOK {
		t.Fatalf("clean batch: %d %s", ans.status, ans.body)
	}
	st := getStats(t, srv)
	if st.FaultsInjected != 1 || st.Status["422"] != 1 || st.Stored != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutage(t *testing.T) {
	for _, tc := range []struct {
		retryAfter int
		want       string
	}{{0, "1"}, {3, "3"}} {
		srv := newSink(t, Config{Faults: Faults{Outage: true, RetryAfter: tc.retryAfter}})
		for range 3 {
			ans := send(t, srv, batch(item("t", "1", "n", t1)))
			if ans.status != http.StatusServiceUnavailable || ans.header.Get("Retry-After") != tc.want {
				t.Fatalf("got %d Retry-After %q, want 503 %s", ans.status, ans.header.Get("Retry-After"), tc.want)
			}
		}
		st := getStats(t, srv)
		if st.FaultsInjected != 3 || st.Status["503"] != 3 || st.Stored != 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestFailFractionOne(t *testing.T) {
	srv := newSink(t, Config{Faults: Faults{FailFraction: 1, RetryAfter: 2, Seed: 42}})
	const n = 120
	seen := map[string]int{}
	for range n {
		ans := send(t, srv, batch(item("t", "1", "n", t1)))
		switch ans.status {
		case 0:
			if ans.err == nil {
				t.Fatal("no status and no error")
			}
			seen["reset"]++
		case http.StatusInternalServerError:
			seen["500"]++
		case http.StatusServiceUnavailable:
			if ans.header.Get("Retry-After") != "2" {
				t.Errorf("503 Retry-After %q", ans.header.Get("Retry-After"))
			}
			seen["503"]++
		case http.StatusTooManyRequests:
			at, err := http.ParseTime(ans.header.Get("Retry-After"))
			if err != nil || at.Before(time.Now().Add(-time.Second)) || at.After(time.Now().Add(4*time.Second)) {
				t.Errorf("429 Retry-After %q", ans.header.Get("Retry-After"))
			}
			seen["429"]++
		default:
			t.Fatalf("unexpected answer %d %s", ans.status, ans.body)
		}
	}
	for _, k := range []string{"500", "503", "429", "reset"} {
		if seen[k] == 0 {
			t.Errorf("no %s in %d requests: %v", k, n, seen)
		}
	}
	st := getStats(t, srv)
	if st.Requests != n || st.FaultsInjected != n || st.RequestsRejected != n || st.RequestsOK != 0 || st.Stored != 0 {
		t.Fatalf("stats %+v", st)
	}
	for k, v := range seen {
		if st.Status[k] != int64(v) {
			t.Errorf("status[%s] = %d, client saw %d", k, st.Status[k], v)
		}
	}
}

func TestSlow(t *testing.T) {
	srv := newSink(t, Config{Faults: Faults{SlowFraction: 1, SlowMS: 60}})
	start := time.Now()
	if ans := send(t, srv, batch(item("t", "1", "n", t1))); ans.status != http.StatusOK {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	if st := getStats(t, srv); st.Slowed != 1 || st.Stored != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAdminFaults(t *testing.T) {
	srv := newSink(t, Config{Faults: Faults{PoisonName: "p", Seed: 3}})
	resp, err := http.Get(srv.URL + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	var f Faults
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if f != (Faults{PoisonName: "p", Seed: 3}) {
		t.Fatalf("faults %+v", f)
	}

	want := Faults{FailFraction: 0.25, Outage: true, PoisonName: "x", SlowFraction: 0.5, SlowMS: 7, RetryAfter: 9, Seed: -4}
	b, _ := json.Marshal(want)
	if status, body := setFaults(t, srv, string(b)); status != http.StatusOK {
		t.Fatalf("put: %d %s", status, body)
	}
	resp, err = http.Get(srv.URL + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	f = Faults{}
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if f != want {
		t.Fatalf("faults %+v, want %+v", f, want)
	}
	if ans := send(t, srv, batch(item("t", "1", "n", t1))); ans.status != http.StatusServiceUnavailable || ans.header.Get("Retry-After") != "9" {
		t.Fatalf("during outage: %d %v", ans.status, ans.header)
	}
	if status, _ := setFaults(t, srv, `{"outage":false,"typo":1}`); status != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", status)
	}
	if status, _ := setFaults(t, srv, `{}`); status != http.StatusOK {
		t.Fatalf("clear: %d", status)
	}
	if ans := send(t, srv, batch(item("t", "1", "x", t1))); ans.status != http.StatusOK {
		t.Fatalf("after clearing: %d %s", ans.status, ans.body)
	}
}

func TestRejectAll(t *testing.T) {
	srv := newSink(t, Config{Faults: Faults{RejectAll: true}})
	for range 3 {
		if ans := send(t, srv, batch(item("t", "1", "fine", t1))); ans.status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d %s, want 422", ans.status, ans.body)
		}
	}
	st := getStats(t, srv)
	if st.FaultsInjected != 3 || st.Status["422"] != 3 || st.Stored != 0 {
		t.Fatalf("stats %+v", st)
	}
}
