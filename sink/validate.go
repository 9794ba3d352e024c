package sink

import (
	"fmt"
	"time"

	json "github.com/goccy/go-json"
)

// fields is what validation reads of an item.
type fields struct {
	ID      json.RawMessage `json:"id"`
	TraceID json.RawMessage `json:"trace_id"`
	Name    json.RawMessage `json:"name"`
	Start   json.RawMessage `json:"start_timestamp"`
	End     json.RawMessage `json:"end_timestamp"`
}

// checkedItem is a valid item's storage key and whether it is completed.
type checkedItem struct {
	key      string
	complete bool
}

// check validates an item as the backend does.
func (f *fields) check() (checkedItem, error) {
	var v [4]string
	for i, fl := range []struct {
		name string
		raw  json.RawMessage
	}{{"id", f.ID}, {"trace_id", f.TraceID}, {"name", f.Name}, {"start_timestamp", f.Start}} {
		s, err := stringField(fl.name, fl.raw)
		if err != nil {
			return checkedItem{}, err
		}
		v[i] = s
	}
	c := checkedItem{key: v[1] + "\x00" + v[0]}
	start, err := parseTime(v[3])
	if err != nil {
		return checkedItem{}, fmt.Errorf("start_timestamp: %v", err)
	}
	if len(f.End) == 0 || string(f.End) == "null" {
		return c, nil
	}
	var e string
	if json.Unmarshal(f.End, &e) != nil {
		return checkedItem{}, fmt.Errorf("end_timestamp must be a string or null")
	}
	end, err := parseTime(e)
	if err != nil {
		return checkedItem{}, fmt.Errorf("end_timestamp: %v", err)
	}
	if end.Before(start) {
		return checkedItem{}, fmt.Errorf("end_timestamp %s is before start_timestamp %s", e, v[3])
	}
	c.complete = true
	return c, nil
}

// stringField reads a required, non-empty string field.
func stringField(name string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("field %s is required", name)
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", fmt.Errorf("field %s must be a string", name)
	}
	if v == "" {
		return "", fmt.Errorf("field %s must not be empty", name)
	}
	return v, nil
}

// parseTime reads an RFC 3339 timestamp (Z or a numeric offset such as
// +00:00). Like the backend, it also takes the zone-less forms the shipper
// lets through: a naive date-time (UTC) or a bare date.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", v)
}
