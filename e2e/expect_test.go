package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"unicode/utf8"
)

// record is one input line, kept raw so byte-for-byte fields can be checked.
type record map[string]json.RawMessage

func (r record) str(k string) string {
	var s string
	json.Unmarshal(r[k], &s)
	return s
}

func (r record) null(k string) bool {
	v, ok := r[k]
	return !ok || string(v) == "null"
}

// valid reports whether the record has the required fields of SPEC §2 as
// strings (the generator's bad lines break exactly these rules).
func (r record) valid() bool {
	for _, k := range []string{"id", "trace_id", "name", "start_time"} {
		if len(r[k]) == 0 || r[k][0] != '"' {
			return false
		}
	}
	return true
}

func (r record) key() string { return r.str("trace_id") + "/" + r.str("id") }

// expectations reads every line of the files matching glob and returns the
// span-end records keyed by trace_id/id (the later one wins), and the keys
// of spans that only ever had a start record.
func expectations(t *testing.T, globs ...string) (ends map[string]record, startOnly map[string]bool) {
	t.Helper()
	ends = make(map[string]record)
	starts := make(map[string]bool)
	for _, g := range globs {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				line := bytes.TrimRight(sc.Bytes(), "\r")
				var r record
				if !utf8.Valid(line) || json.Unmarshal(line, &r) != nil || !r.valid() {
					continue // bad input: skipped by the shipper
				}
				if r.null("end_time") {
					starts[r.key()] = true
				} else {
					ends[r.key()] = r
				}
			}
			f.Close()
		}
	}
	startOnly = make(map[string]bool)
	for k := range starts {
		if _, ok := ends[k]; !ok {
			startOnly[k] = true
		}
	}
	return ends, startOnly
}

// checkItem compares a received item with the SPEC §3 mapping of rec.
func checkItem(rec record, got json.RawMessage, metadata map[string]string) error {
	var item map[string]json.RawMessage
	if err := json.Unmarshal(got, &item); err != nil {
		return err
	}
	eqRaw := func(field string, want json.RawMessage) error {
		if !bytes.Equal(item[field], want) {
			return fmt.Errorf("%s = %s, want %s", field, item[field], want)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []string{"id", "trace_id", "name"} {
		var a, b string
		json.Unmarshal(item[f], &a)
		json.Unmarshal(rec[f], &b)
		if a != b {
			add(fmt.Errorf("%s = %q, want %q", f, a, b))
		}
	}
	if rec.null("parent_id") {
		if _, ok := item["parent_id"]; ok {
			add(fmt.Errorf("parent_id present for a null parent"))
		}
	} else {
		add(eqRaw("parent_id", rec["parent_id"]))
	}
	add(eqRaw("start_timestamp", rec["start_time"]))
	add(eqRaw("end_timestamp", rec["end_time"]))
	for _, f := range []string{"input", "output"} {
		want := rec[f]
		if rec.null(f) {
			want = json.RawMessage("{}")
		}
		add(eqRaw(f, want))
	}
	if _, ok := item["task_id"]; ok {
		add(fmt.Errorf("task_id sent"))
	}

	// metadata, type, status: built semantically.
	var data any
	json.Unmarshal(rec["data"], &data)
	meta := map[string]any{}
	typ, status := "STANDALONE", "SUCCESS"
	if data == nil {
		meta["__source__"] = "agentex" // the SDK's _add_source_to_span: None becomes {}
	}
	if obj, ok := data.(map[string]any); ok {
		for k, v := range obj {
			meta[k] = v
		}
		meta["__source__"] = "agentex"
		if s, ok := obj["__span_type__"].(string); ok {
			typ = s
		}
		if em, ok := obj["__error__"].(map[string]any); ok { // get_span_error: a dict only
			status = "ERROR"
			meta["error"] = true
			meta["error_type"] = em["type"]
			meta["error_message"] = em["message"]
		}
	}
	for k, v := range metadata {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	var gotMeta any
	json.Unmarshal(item["metadata"], &gotMeta)
	if !reflect.DeepEqual(gotMeta, any(meta)) {
		add(fmt.Errorf("metadata = %s, want %v", item["metadata"], meta))
	}
	var gotType, gotStatus string
	json.Unmarshal(item["type"], &gotType)
	json.Unmarshal(item["status"], &gotStatus)
	if gotType != typ {
		add(fmt.Errorf("type = %q, want %q", gotType, typ))
	}
	if gotStatus != status {
		add(fmt.Errorf("status = %q, want %q", gotStatus, status))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// checkDelivered asserts every span-end record arrived exactly as mapped and
// no start-only span arrived.
func checkDelivered(t *testing.T, got map[string]json.RawMessage, ends map[string]record, startOnly map[string]bool, metadata map[string]string) {
	t.Helper()
	var missing, bad []string
	for k, rec := range ends {
		item, ok := got[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		if err := checkItem(rec, item, metadata); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", k, err))
		}
	}
	for k := range startOnly {
		if _, ok := got[k]; ok {
			bad = append(bad, k+": a start-only span arrived (span-starts are skipped by default)")
		}
	}
	sort.Strings(missing)
	sort.Strings(bad)
	if len(missing) > 0 {
		t.Errorf("%d of %d span-end records missing, e.g. %v", len(missing), len(ends), missing[:min(5, len(missing))])
	}
	if len(bad) > 0 {
		t.Errorf("%d items wrong, e.g.:\n%v", len(bad), bad[:min(5, len(bad))])
	}
}
