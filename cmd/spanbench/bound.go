package main

import "fmt"

// floorLabel labels spanfloor's runs: the least a shipper can do (read,
// decode with spanshipper's decoder, send one request at a time; no
// checkpoint, no held starts, no retries), run beside spanshipper. What it
// costs per span bounds what spanshipper can reach with that decoder and
// net/http on this host.
const floorLabel = "spanfloor"

// rawFloorLabel labels spanfloor --raw: no decoding at all, the span-end
// lines sent as they were read to a receiver that does not validate. Its
// cost bounds any shipper whatever its decoder.
const rawFloorLabel = "spanfloor-raw"

// printBound prints a bar of run next to spanfloor's cost in the same
// invocation: the throughput bar is a multiple of the floor, the latency
// and files bars a multiple of spanshipper's throughput run. Each figure is
// CPU-seconds per million spans; the steady-rate runs use their steady
// state (first write to last ack).
func printBound(run string, bar float64) {
	bulk := measured.bulk[""]
	cost := func(label string) float64 {
		if run == "throughput" {
			return measured.bulk[label]
		}
		return measured.steady[run+"/"+label]
	}
	limit, of := bar*bulk, "spanshipper's throughput run"
	if run == "throughput" {
		limit, of = bar*measured.floor, "the floor"
	}
	floorCost, rawCost := cost(floorLabel), cost(rawFloorLabel)
	if floorCost == 0 || rawCost == 0 || limit == 0 {
		return // spanfloor not run, or no throughput run in this invocation
	}
	var verdict string
	switch room, decoding := limit-rawCost, floorCost-rawCost; {
	case room <= 0:
		verdict = fmt.Sprintf("reading and sending alone cost %.2fx the bar, which leaves nothing for decoding: no shipper reaches it here", rawCost/limit)
	case floorCost > limit:
		verdict = fmt.Sprintf("reading and sending leave %.2f for decoding; spanshipper's decoder takes %.2f here (%.1fx that)", room, decoding, decoding/room)
	default:
		verdict = fmt.Sprintf("spanfloor is within the bar; what spanshipper does beyond it costs %.2f", cost("")-floorCost)
	}
	fmt.Printf("RESULT %s bound: the bar (%.1fx %s) is %.2f CPU-seconds per million spans; spanshipper %.2f (%.2fx the bar), spanfloor %.2f (%.2fx), spanfloor --raw %.2f (%.2fx): %s\n",
		run, bar, of, limit, cost(""), cost("")/limit, floorCost, floorCost/limit, rawCost, rawCost/limit, verdict)
}
