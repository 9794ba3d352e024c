package sink

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// TestStartsRemembersEveryInProgressItem: /starts names each span that
// arrived without an end_timestamp, even once its end replaced it.
func TestStartsRemembersEveryInProgressItem(t *testing.T) {
	srv := newSink(t, Config{})
	for _, b := range [][]byte{
		batch(item("t", "1", "a", ""), item("t", "2", "b", t1)),
		batch(item("t", "1", "a", t1), item("u", "3", "c", "null")),
		batch(item("u", "3", "c", "")),
	} {
		if ans := send(t, srv, b); ans.status != http.StatusOK {
			t.Fatalf("got %d %s", ans.status, ans.body)
		}
	}
	resp, err := http.Get(srv.URL + "/starts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"t/1": 1, "u/3": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("/starts = %v, want %v", got, want)
	}
	if st := getStats(t, srv); st.StartsReceived != 3 {
		t.Fatalf("starts_received = %d, want 3", st.StartsReceived)
	}
}
