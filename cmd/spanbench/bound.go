package main

import "fmt"

// floorLabel labels spanfloor's runs: the least a shipper can do (read,
// decode with spanshipper's decoder, send one request at a time; no
// checkpoint, no held starts, no retries), run beside spanshipper. What it
// costs per span bounds what spanshipper can reach with that decoder and
// net/http on this host.
const floorLabel = "spanfloor"

// printBound prints a bar of run next to spanfloor's cost in the same
// invocation: the throughput bar is a multiple of the floor, the latency
// and files bars a multiple of spanshipper's throughput run. Each figure is
// CPU-seconds per million spans; the steady-rate runs use their steady
// state (first write to last ack).
func printBound(run string, bar float64) {
	bulk := measured.bulk[""]
	var shipperCost, floorCost, limit float64
	var of string
	switch run {
	case "throughput":
		shipperCost, floorCost, limit, of = bulk, measured.bulk[floorLabel], bar*measured.floor, "the floor"
	default:
		shipperCost, floorCost, limit, of = measured.steady[run+"/"], measured.steady[run+"/"+floorLabel], bar*bulk, "spanshipper's throughput run"
	}
	if floorCost == 0 || limit == 0 {
		return // spanfloor not run, or no throughput run in this invocation
	}
	verdict := "spanfloor is within the bar, so reading, decoding and sending alone do not rule it out"
	if floorCost > limit {
		verdict = "the bar is below what spanfloor alone costs: no shipper with this decoder and net/http reaches it here"
	}
	fmt.Printf("RESULT %s bound: the bar (%.1fx %s) is %.2f CPU-seconds per million spans; spanshipper %.2f (%.2fx the bar), spanfloor %.2f (%.2fx the bar): %s\n",
		run, bar, of, limit, shipperCost, shipperCost/limit, floorCost, floorCost/limit, verdict)
}
