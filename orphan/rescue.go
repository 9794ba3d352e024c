package orphan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Due returns up to max held starts that have been held for Options.After,
// oldest first, to ship (reason orphan_after).
func (s *Set) Due(max int) ([]Rescue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.promoteYoung()
	limit := s.opt.Now().Add(-s.opt.After).UnixNano()
	var out []Rescue
	for len(out) < max {
		e := s.oldest()
		if e == nil || e.seen > limit {
			break
		}
		r, err := s.rescueOldest(ReasonOrphanAfter)
		if err != nil {
			return out, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// NextDue returns when the oldest held start falls due; false when none is
// held.
func (s *Set) NextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.promoteYoung()
	e := s.oldest()
	if e == nil {
		return time.Time{}, false
	}
	return time.Unix(0, e.seen).Add(s.opt.After), true
}

// oldest returns the longest-held start, popping gone entries.
func (s *Set) oldest() *entry {
	for len(s.fifo) > 0 && s.fifo[0].gone {
		s.fifo[0] = nil
		s.fifo = s.fifo[1:]
		s.fifoGone--
	}
	if len(s.fifo) == 0 {
		return nil
	}
	return s.fifo[0]
}

// rescueOldest takes the oldest held start out of the set for shipping.
// A fresh one ships with its cursor mark; a journaled one with a mark on
// acks, and stays in the journal until that mark is done. A fresh start
// whose line is bad input is settled instead, and nil returned.
func (s *Set) rescueOldest(why Reason) (*Rescue, error) {
	e := s.oldest()
	var item []byte
	if e.journaled {
		b, err := s.j.readAt(e.itemOff, e.joff+e.jn-2-e.itemOff) // the item ends before "}\n"
		if err != nil {
			return nil, err
		}
		item = b
	} else {
		b, ok := s.encode(e)
		if !ok {
			return nil, nil
		}
		item = slices.Clone(b)
	}
	tid, id, err := itemIdentity(item)
	if err != nil {
		return nil, err
	}
	s.remove(e)
	r := &Rescue{Item: item, TraceID: tid, ID: id, Path: e.path, Offset: e.offset, Reason: why, Mark: e.mark}
	if e.journaled {
		e.seq = s.ackSeq
		r.Mark = s.acks.Add(int64(s.ackSeq), int64(s.ackSeq+1))
		s.ackSeq++
		s.inflight = append(s.inflight, e)
	}
	return r, nil
}

// itemIdentity returns the raw trace_id and id strings of an encoded item,
// as the decoder reports them (escapes not undone).
func itemIdentity(item []byte) (traceID, id []byte, err error) {
	if traceID, id, ok := leadingIdentity(item); ok {
		return traceID, id, nil
	}
	var v struct {
		ID      json.RawMessage `json:"id"`
		TraceID json.RawMessage `json:"trace_id"`
	}
	if err := json.Unmarshal(item, &v); err != nil {
		return nil, nil, fmt.Errorf("held start item: %w", err)
	}
	if len(v.ID) < 2 || len(v.TraceID) < 2 || v.ID[0] != '"' || v.TraceID[0] != '"' {
		return nil, nil, errors.New("held start item: no id or trace_id")
	}
	return v.TraceID[1 : len(v.TraceID)-1], v.ID[1 : len(v.ID)-1], nil
}

// leadingIdentity is itemIdentity for an item that starts as the decoder
// writes every item, {"id":"…","trace_id":"…", (decode.appendItem):
// found by a scan, without encoding/json, which took a third of the CPU
// of a catch-up past --max-pending-starts (every new start rescues the
// oldest). false: not so; ask encoding/json.
func leadingIdentity(item []byte) (traceID, id []byte, ok bool) {
	const idKey, traceKey = `{"id":"`, `,"trace_id":"`
	if !bytes.HasPrefix(item, []byte(idKey)) {
		return nil, nil, false
	}
	id, rest, ok := rawString(item[len(idKey):])
	if !ok || !bytes.HasPrefix(rest, []byte(traceKey)) {
		return nil, nil, false
	}
	traceID, rest, ok = rawString(rest[len(traceKey):])
	if !ok || len(rest) == 0 || (rest[0] != ',' && rest[0] != '}') {
		return nil, nil, false
	}
	return traceID, id, true
}

// rawString splits b after the JSON string contents it starts with (the
// opening quote already passed): the contents, escapes kept, and what
// follows the closing quote.
func rawString(b []byte) (s, rest []byte, ok bool) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			return b[:i], b[i+1:], true
		case '\\':
			i++
		}
	}
	return nil, nil, false
}
