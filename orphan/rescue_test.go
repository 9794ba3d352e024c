package orphan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// jsonIdentity is itemIdentity by encoding/json alone, the reference: the
// first top-level id and trace_id (the decoder writes each key once).
func jsonIdentity(item []byte) (traceID, id []byte, ok bool) {
	var v map[string]json.RawMessage
	if json.Unmarshal(item, &v) != nil {
		return nil, nil, false
	}
	d := json.NewDecoder(bytes.NewReader(item))
	d.Token() // {
	var got [2]json.RawMessage
	for d.More() {
		k, _ := d.Token()
		var raw json.RawMessage
		d.Decode(&raw)
		for i, want := range []string{"trace_id", "id"} {
			if k == want && got[i] == nil {
				got[i] = raw
			}
		}
	}
	for _, r := range got {
		if len(r) < 2 || r[0] != '"' {
			return nil, nil, false
		}
	}
	return got[0][1 : len(got[0])-1], got[1][1 : len(got[1])-1], true
}

var identityItems = []string{
	`{"id":"s1","trace_id":"t1","name":"n"}`,
	`{"id":"s1","trace_id":"t1"}`,
	`{"id":"a\"b","trace_id":"c\\","name":"n"}`,
	`{"id":"\\\"","trace_id":"\u00e9\n","name":"x"}`,
	`{"id":"","trace_id":"","name":""}`,
	`{"trace_id":"t1","id":"s1"}`,          // other order: encoding/json
	`{"id":"s1", "trace_id":"t1"}`,         // a space: encoding/json
	`{"id":"s1","trace_id":"t1"x}`,         // not an item
	`{"id":"s1","trace_id":"t1`,            // cut
	`{"id":"s1\","trace_id":"t1","n":"x"}`, // the quote is escaped: no trace_id after id
	`{"id":1,"trace_id":"t1"}`,
	`{"id":"s","trace_id":"t\",x","name":"n"}`, // an escaped quote, then a comma
	`{"id":"a","trace_id":"b","id":"c"}`,
}

// TestLeadingIdentityMatchesJSON: where the scan answers, it answers as
// encoding/json does.
func TestLeadingIdentityMatchesJSON(t *testing.T) {
	fast := 0
	for _, it := range identityItems {
		checkIdentity(t, []byte(it))
		if _, _, ok := leadingIdentity([]byte(it)); ok {
			fast++
		}
	}
	if fast < 7 {
		t.Fatalf("the scan answered for %d items, want the 7 the decoder could write", fast)
	}
}

func checkIdentity(t *testing.T, item []byte) {
	t.Helper()
	tid, id, ok := leadingIdentity(item)
	if !ok {
		return
	}
	if !json.Valid(item) {
		return // the scan reads only the start; items are the decoder's own, valid
	}
	wt, wi, wok := jsonIdentity(item)
	if !wok || string(tid) != string(wt) || string(id) != string(wi) {
		t.Fatalf("%s: scan says trace_id %q id %q; encoding/json %q %q (%v)", item, tid, id, wt, wi, wok)
	}
}

func FuzzLeadingIdentity(f *testing.F) {
	for _, it := range identityItems {
		f.Add([]byte(it))
	}
	f.Fuzz(checkIdentity)
}
