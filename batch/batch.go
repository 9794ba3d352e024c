// Package batch groups encoded span items into request bodies for the span
// batch API: at most a number of items, a number of bytes, or a linger time
// after the first item, unique by (trace_id, id) within one request.
package batch

import "github.com/spanshipper/spanshipper/checkpoint"

// Item is one encoded span item inside a Batch body.
type Item struct {
	Lo, Hi int    // the item's JSON is Body[Lo:Hi]
	Path   string // source file, for dead letters
	Offset int64  // byte offset of the source line in that file
	End    bool   // a span-end record (else a span-start sent as in-progress)
}

// Batch is a sealed request: the body to send, the items in it, and the marks
// of every source record folded into it (including records superseded by a
// later record of the same span). A Batch is owned by one goroutine at a time.
type Batch struct {
	Body  []byte // {"items":[...]}
	Items []Item
	Marks []checkpoint.Mark
}

// ItemJSON returns the encoded JSON of item i.
func (b *Batch) ItemJSON(i int) []byte {
	it := b.Items[i]
	return b.Body[it.Lo:it.Hi]
}

// Len returns the number of items in the batch.
func (b *Batch) Len() int { return len(b.Items) }

// Ack reports every record folded into the batch as final. Call it only once
// each item was acknowledged by the backend or durably dead-lettered.
func (b *Batch) Ack() {
	marks := b.Marks
	for len(marks) > 0 {
		// Marks arrive grouped by file, so take each file's run under one lock.
		c := marks[0].C
		n := 1
		for n < len(marks) && marks[n].C == c {
			n++
		}
		c.DoneAll(marks[:n])
		marks = marks[n:]
	}
}

// AppendBody appends a request body holding items (encoded item JSON values)
// to dst. It serves callers that re-send a subset of a batch.
func AppendBody(dst []byte, items ...[]byte) []byte {
	dst = append(dst, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it...)
	}
	return append(dst, "]}"...)
}
