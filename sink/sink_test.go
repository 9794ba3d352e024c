package sink

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	t0 = "2026-11-25T10:00:00.123456Z"
	t1 = "2026-11-25T10:00:01.5+00:00"
)

// newSink starts a Server for cfg behind a real HTTP server.
func newSink(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// client sends every request on a new connection, so an injected reset
// is never retried on another one.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

// send PUTs body as a batch with the usual headers; hdr overrides them
// in pairs (an empty value deletes the header).
func send(t *testing.T, srv *httptest.Server, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/v5/spans/batch", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "key")
	req.Header.Set("x-selected-account-id", "acct")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := client().Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// item builds a span item; end "" leaves end_timestamp out, "null" sets it null.
func item(trace, id, name, end string) string {
	s := fmt.Sprintf(`{"id":%q,"trace_id":%q,"name":%q,"start_timestamp":%q`, id, trace, name, t0)
	switch end {
	case "":
	case "null":
		s += `,"end_timestamp":null`
	default:
		s += fmt.Sprintf(`,"end_timestamp":%q`, end)
	}
	return s + "}"
}

func batch(items ...string) []byte { return []byte(`{"items":[` + strings.Join(items, ",") + `]}`) }

func getStats(t *testing.T, srv *httptest.Server) Stats {
	t.Helper()
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func getSpans(t *testing.T, srv *httptest.Server) []string {
	t.Helper()
	resp, err := http.Get(srv.URL + "/spans")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func setFaults(t *testing.T, srv *httptest.Server, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/admin/faults", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAcceptedBatchIsStoredAndDumped(t *testing.T) {
	srv := newSink(t, Config{APIKey: "key", AccountID: "acct"})
	a, b, c := item("t2", "a", "x", t1), item("t1", "b", "y", ""), item("t1", "a", "z", "null")
	ans := send(t, srv, batch(a, b, c))
	if ans.status != http.StatusOK || strings.TrimSpace(ans.body) != `{"items_accepted":3}` {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	got := getSpans(t, srv)
	want := []string{c, b, a} // sorted by trace_id, then id
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := getStats(t, srv)
	if st.Requests != 1 || st.RequestsOK != 1 || st.ItemsReceived != 3 || st.MaxItemsInRequest != 3 ||
		st.Stored != 3 || st.Completed != 1 || st.InProgress != 2 || st.Status["200"] != 1 ||
		st.BytesReceived != int64(len(batch(a, b, c))) || st.MissingHeaders != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUpsert(t *testing.T) {
	open1, open2 := item("t", "1", "open-1", ""), item("t", "1", "open-2", "null")
	done1, done2 := item("t", "1", "done-1", t1), item("t", "1", "done-2", t1)
	for _, tc := range []struct {
		name      string
		requests  [][]string
		want      string
		completed int64
		dups      int64
	}{
		{"completed replaces in-progress", [][]string{{open1}, {done1}}, done1, 1, 0},
		{"in-progress never replaces completed", [][]string{{done1}, {open1}}, done1, 1, 0},
		{"completed replaces completed", [][]string{{done1}, {done2}}, done2, 1, 0},
		{"in-progress replaces in-progress", [][]string{{open1}, {open2}}, open2, 0, 0},
		{"within a request, completed last", [][]string{{open1, done1}}, done1, 1, 1},
		{"within a request, completed first", [][]string{{done1, open1, open2}}, done1, 1, 2},
		{"within a request, two completed", [][]string{{done1, open1, done2}}, done2, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSink(t, Config{})
			for _, r := range tc.requests {
				if ans := send(t, srv, batch(r...)); ans.status != http.StatusOK {
					t.Fatalf("got %d %s", ans.status, ans.body)
				}
			}
			if got := getSpans(t, srv); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("spans %q, want %q", got, tc.want)
			}
			st := getStats(t, srv)
			if st.Stored != 1 || st.Completed != tc.completed || st.InProgress != 1-tc.completed || st.DupInRequest != tc.dups {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestTooManyItems(t *testing.T) {
	srv := newSink(t, Config{})
	its := make([]string, MaxItems+1)
	for i := range its {
		its[i] = item("t", strconv.Itoa(i), "n", t1)
	}
	if ans := send(t, srv, batch(its...)); ans.status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	if ans := send(t, srv, batch(its[:MaxItems]...)); ans.status != http.StatusOK {
		t.Fatalf("1000 items: got %d %s", ans.status, ans.body)
	}
	st := getStats(t, srv)
	if st.Stored != MaxItems || st.RequestsRejected != 1 || st.Status["422"] != 1 || st.MaxItemsInRequest != MaxItems {
		t.Fatalf("stats %+v", st)
	}
}

func TestItemValidation(t *testing.T) {
	good := item("t", "good", "n", t1)
	for _, tc := range []struct {
		name, item string
		ok         bool
	}{
		{"missing id", `{"trace_id":"t","name":"n","start_timestamp":"` + t0 + `"}`, false},
		{"missing trace_id", `{"id":"i","name":"n","start_timestamp":"` + t0 + `"}`, false},
		{"missing name", `{"id":"i","trace_id":"t","start_timestamp":"` + t0 + `"}`, false},
		{"missing start_timestamp", `{"id":"i","trace_id":"t","name":"n"}`, false},
		{"empty id", item("t", "", "n", ""), false},
		{"empty trace_id", item("", "i", "n", ""), false},
		{"empty name", item("t", "i", "", ""), false},
		{"null id", `{"id":null,"trace_id":"t","name":"n","start_timestamp":"` + t0 + `"}`, false},
		{"numeric id", `{"id":7,"trace_id":"t","name":"n","start_timestamp":"` + t0 + `"}`, false},
		{"end before start", item("t", "i", "n", "2026-11-25T09:59:59Z"), false},
		{"end before start, other offset", item("t", "i", "n", "2026-11-25T11:00:00+02:00"), false},
		{"unparsable start", `{"id":"i","trace_id":"t","name":"n","start_timestamp":"yesterday"}`, false},
		{"unparsable end", item("t", "i", "n", "soon"), false},
		{"numeric end", `{"id":"i","trace_id":"t","name":"n","start_timestamp":"` + t0 + `","end_timestamp":5}`, false},
		{"not an object", `[1,2]`, false},
		{"end equals start", item("t", "i", "n", t0), true},
		{"end with +00:00", item("t", "i", "n", t1), true},
		{"null end", item("t", "i", "n", "null"), true},
		{"no end", item("t", "i", "n", ""), true},
	} {
		for _, discard := range []bool{false, true} { // --discard validates on a faster path
			t.Run(fmt.Sprintf("%s/discard=%v", tc.name, discard), func(t *testing.T) {
				srv := newSink(t, Config{Discard: discard})
				ans := send(t, srv, batch(good, tc.item))
				if tc.ok {
					if ans.status != http.StatusOK {
						t.Fatalf("got %d %s", ans.status, ans.body)
					}
					return
				}
				if ans.status != http.StatusUnprocessableEntity {
					t.Fatalf("got %d %s", ans.status, ans.body)
				}
				var p struct {
					Detail string `json:"detail"`
					Index  *int   `json:"index"`
					Reason string `json:"reason"`
				}
				if err := json.Unmarshal([]byte(ans.body), &p); err != nil || p.Index == nil || *p.Index != 1 || p.Reason == "" ||
					!strings.HasPrefix(p.Detail, "items[1]: ") {
					t.Fatalf("body %s", ans.body)
				}
				if got := getSpans(t, srv); len(got) != 0 {
					t.Fatalf("stored %q from a rejected request", got)
				}
			})
		}
	}
}

func TestRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		body   string
		hdr    []string
		status int
	}{
		{"wrong api key", Config{APIKey: "right"}, string(batch()), nil, http.StatusUnauthorized},
		{"no api key", Config{APIKey: "key"}, string(batch()), []string{"x-api-key", ""}, http.StatusUnauthorized},
		{"wrong account", Config{AccountID: "other"}, string(batch()), nil, http.StatusForbidden},
		{"content type", Config{}, string(batch()), []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"content type with charset", Config{}, string(batch()), []string{"Content-Type", "application/json; charset=utf-8"}, http.StatusOK},
		{"not json", Config{}, "{", nil, http.StatusBadRequest},
		{"no items", Config{}, `{"spans":[]}`, nil, http.StatusBadRequest},
		{"items not an array", Config{}, `{"items":{}}`, nil, http.StatusBadRequest},
		{"not gzip", Config{}, string(batch()), []string{"Content-Encoding", "gzip"}, http.StatusBadRequest},
		{"empty batch", Config{}, string(batch()), nil, http.StatusOK},
	} {
		for _, discard := range []bool{false, true} {
			cfg := tc.cfg
			cfg.Discard = discard
			t.Run(fmt.Sprintf("%s/discard=%v", tc.name, discard), func(t *testing.T) {
				srv := newSink(t, cfg)
				ans := send(t, srv, []byte(tc.body), tc.hdr...)
				if ans.status != tc.status {
					t.Fatalf("got %d %s, want %d", ans.status, ans.body, tc.status)
				}
				st := getStats(t, srv)
				if st.Requests != 1 || st.Status[strconv.Itoa(tc.status)] != 1 || st.RequestsOK+st.RequestsRejected != 1 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

func TestWrongAPIKeyBody(t *testing.T) {
	srv := newSink(t, Config{APIKey: "right"})
	ans := send(t, srv, batch(item("t", "i", "n", t1)))
	if ans.status != http.StatusUnauthorized || strings.TrimSpace(ans.body) != `{"detail":"invalid api key"}` {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	if got := getSpans(t, srv); len(got) != 0 {
		t.Fatalf("stored %q", got)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newSink(t, Config{})
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(m, srv.URL+"/v5/spans/batch", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
}

func TestMissingHeadersCounted(t *testing.T) {
	srv := newSink(t, Config{})
	send(t, srv, batch(), "x-api-key", "")
	send(t, srv, batch(), "x-selected-account-id", "")
	send(t, srv, batch())
	if st := getStats(t, srv); st.MissingHeaders != 2 || st.RequestsOK != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGzip(t *testing.T) {
	srv := newSink(t, Config{})
	var its []string
	for i := range 200 {
		its = append(its, item("t", strconv.Itoa(i), "a rather repetitive span name", t1))
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(batch(its...))
	zw.Close()
	ans := send(t, srv, buf.Bytes(), "Content-Encoding", "gzip")
	if ans.status != http.StatusOK {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	st := getStats(t, srv)
	if st.Stored != 200 || st.BytesReceived != int64(buf.Len()) {
		t.Fatalf("stats %+v, sent %d bytes", st, buf.Len())
	}
}

func TestDiscard(t *testing.T) {
	srv := newSink(t, Config{Discard: true})
	a := item("t", "1", "n", t1)
	if ans := send(t, srv, batch(a, a)); ans.status != http.StatusOK {
		t.Fatalf("got %d %s", ans.status, ans.body)
	}
	st := getStats(t, srv)
	if st.Stored != 0 || st.ItemsReceived != 2 || st.DupInRequest != 1 || len(getSpans(t, srv)) != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReset(t *testing.T) {
	srv := newSink(t, Config{})
	send(t, srv, batch(item("t", "1", "n", t1)))
	resp, err := http.Post(srv.URL+"/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	st := getStats(t, srv)
	if st.Requests != 0 || st.Stored != 0 || len(st.Status) != 0 || len(getSpans(t, srv)) != 0 {
		t.Fatalf("after reset: %+v", st)
	}
	if ans := send(t, srv, batch(item("t", "1", "n", "null"))); ans.status != http.StatusOK {
		t.Fatalf("got %d", ans.status)
	}
	if st := getStats(t, srv); st.Stored != 1 || st.InProgress != 1 || st.Completed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStatsKeys(t *testing.T) {
	srv := newSink(t, Config{})
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	for _, k := range []string{"requests", "requests_ok", "requests_rejected", "status", "items_received",
		"max_items_in_request", "dup_in_request", "stored", "completed", "in_progress", "bytes_received",
		"missing_headers", "faults_injected"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in /stats", k)
		}
	}
}
