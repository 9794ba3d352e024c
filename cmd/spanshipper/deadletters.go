package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/spanshipper/spanshipper/agent"
	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/ship"
)

// replayMaxRetries is replay's --max-retries when it is 0 (the agent's
// "never give up"): a command at a terminal should end.
const replayMaxRetries = 3

const deadLettersUsage = `Usage:
  spanshipper dead-letters list   --state-dir DIR
  spanshipper dead-letters replay --state-dir DIR [--endpoint URL] [--api-key-file F] [--account-id ID] [flags]

list summarises {state-dir}/dead-letter.jsonl by status, reason and source file.
replay sends its items again in batches of --batch-size: accepted items leave
the file, items rejected again stay (with the new answer); the file is
rewritten atomically. It is safe while the agent runs on the same state dir.
Exit 0 when no dead letter remains, 1 otherwise. A transient failure is
retried --max-retries times (3 when 0). The flags and variables are the
agent's (state-dir, endpoint, api-key-file, account-id, insecure-http, gzip,
request-timeout, max-retries, batch-size, log-level, log-format).
`

// pick returns the agent's settings named.
func pick(names ...string) []setting {
	var out []setting
	for _, s := range settings() {
		if slices.Contains(names, s.flag) {
			out = append(out, s)
		}
	}
	return out
}

func runDeadLetters(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, deadLettersUsage)
			return 0
		}
		fmt.Fprint(stderr, deadLettersUsage)
		return 2
	}
	names := []string{"state-dir"}
	if args[0] == "replay" {
		names = append(names, "endpoint", "api-key-file", "account-id", "insecure-http", "gzip", "request-timeout",
			"max-retries", "batch-size", "log-level", "log-format")
	}
	c, warnings, err := load(args[1:], getenv, pick(names...))
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, deadLettersUsage)
		return 0
	}
	if err == nil && c.StateDir == "" {
		err = errors.New("--state-dir (SPANSHIPPER_STATE_DIR, STATE_DIRECTORY): must not be empty")
	}
	if err == nil && args[0] == "replay" {
		warnings = append(warnings, c.clamp()...)
		err = c.ValidateEndpoint()
	}
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper dead-letters %s: %v\n", args[0], err)
		return 2
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "spanshipper: warning: %s\n", w)
	}
	path := filepath.Join(c.StateDir, agent.DeadLetterFile)
	lines, err := ship.ReadDeadLetters(path)
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: read dead letters: %v\n", err)
		return 1
	}
	if args[0] == "list" {
		listDeadLetters(stdout, path, lines)
		return 0
	}
	return replayDeadLetters(c, path, lines, stdout, stderr)
}

// listDeadLetters prints the count by status, reason and source file.
func listDeadLetters(w io.Writer, path string, lines []ship.DeadLetterLine) {
	byStatus, byReason, byFile := map[string]int{}, map[string]int{}, map[string]int{}
	sample := map[string]string{} // a response per status
	n, partial := 0, 0
	for _, l := range lines {
		if !l.OK {
			partial++
			continue
		}
		n++
		st := strconv.Itoa(l.Letter.Status)
		if l.Letter.Status == 0 {
			st = "none"
		}
		byStatus[st]++
		byReason[l.Letter.Reason]++
		byFile[l.Letter.File]++
		if _, ok := sample[st]; !ok {
			sample[st] = firstLine(l.Letter.Response + l.Letter.Error)
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "no dead letters in %s\n", path)
		return
	}
	fmt.Fprintf(w, "%d dead letters in %s\n", n, path)
	if partial > 0 {
		fmt.Fprintf(w, "(%d partial lines left by a crash mid-write; the letters were written again after them)\n", partial)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func(title string, m map[string]int, extra func(k string) string) {
		fmt.Fprintf(tw, "\n%s\tCOUNT\t\n", title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return m[b] - m[a] })
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", k, m[k], extra(k))
		}
	}
	none := func(string) string { return "" }
	section("STATUS", byStatus, func(k string) string { return sample[k] })
	section("REASON", byReason, none)
	section("SOURCE FILE", byFile, none)
	tw.Flush()
}

func firstLine(s string) string {
	if i := slices.Index([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// rejectedAgain collects, in place of the dead-letter file, the items the
// backend rejects again during a replay.
type rejectedAgain struct {
	mu  sync.Mutex
	got map[string]ship.DeadLetter // by item JSON
}

func (r *rejectedAgain) Write(letters []ship.DeadLetter) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range letters {
		r.got[string(l.Item)] = l
	}
	return nil
}

// replayDeadLetters sends the letters again and rewrites the file with
// those still not accepted; it returns the exit code.
func replayDeadLetters(c Config, path string, lines []ship.DeadLetterLine, stdout, stderr io.Writer) int {
	var letters []ship.DeadLetterLine
	for _, l := range lines {
		if l.OK {
			letters = append(letters, l)
		}
	}
	if len(letters) == 0 {
		fmt.Fprintf(stdout, "no dead letters in %s\n", path)
		return 0
	}
	retries := c.MaxRetries
	if retries == 0 {
		retries = replayMaxRetries
	}
	again := &rejectedAgain{got: map[string]ship.DeadLetter{}}
	client, err := ship.New(ship.Config{
		Endpoint: c.Endpoint, APIKey: c.APIKey, AccountID: c.AccountID, Gzip: c.Gzip,
		MaxRetries: retries, RequestTimeout: c.RequestTimeout,
		RejectStorm: -1, // rejections are this command's answer, not a backend fault
		DeadLetters: again, Logger: newLogger(c.LogLevel, c.LogFormat, stderr),
	})
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 1
	}
	defer client.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	change := map[string][]byte{}
	accepted, rejected := 0, 0
	for _, rb := range replayBatches(letters, c.BatchSize) {
		if err := client.Send(ctx, rb.bt); err != nil {
			fmt.Fprintf(stderr, "spanshipper: replay interrupted: %v\n", err)
			break // this batch's letters stay as they were
		}
		for i, l := range rb.lines {
			d, ok := again.got[string(rb.bt.ItemJSON(i))]
			if !ok {
				change[string(l.Raw)] = nil
				accepted++
				continue
			}
			b, err := json.Marshal(d)
			if err != nil {
				continue // keep the letter as it was
			}
			change[string(l.Raw)] = b
			rejected++
		}
		clear(again.got)
	}
	left, err := ship.UpdateDeadLetters(path, change)
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: rewrite %s: %v (the file is unchanged; accepted items would be sent again, which is harmless)\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "replayed %d dead letters from %s: %d accepted and removed, %d rejected again and kept; %d dead letters left\n",
		accepted+rejected, path, accepted, rejected, left)
	if left > 0 {
		return 1
	}
	return 0
}

// replayBatch is a request body built from dead letters, in their order.
type replayBatch struct {
	bt    *batch.Batch
	lines []ship.DeadLetterLine
}

// replayBatches groups the letters into batches of at most size items,
// unique by (trace_id, id) within each: a span's n-th letter goes in the
// n-th round of batches.
func replayBatches(letters []ship.DeadLetterLine, size int) []replayBatch {
	var rounds [][]ship.DeadLetterLine
	seen := map[string]int{}
	for _, l := range letters {
		var k struct {
			ID      json.RawMessage `json:"id"`
			TraceID json.RawMessage `json:"trace_id"`
		}
		json.Unmarshal(l.Letter.Item, &k)
		key := string(k.TraceID) + "\x00" + string(k.ID)
		n := seen[key]
		seen[key] = n + 1
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], l)
	}
	var out []replayBatch
	for _, round := range rounds {
		for chunk := range slices.Chunk(round, size) {
			bt := &batch.Batch{}
			items := make([][]byte, len(chunk))
			for i, l := range chunk {
				items[i] = l.Letter.Item
			}
			bt.Body = batch.AppendBody(nil, items...)
			lo := len(`{"items":[`)
			for _, l := range chunk {
				hi := lo + len(l.Letter.Item)
				bt.Items = append(bt.Items, batch.Item{Lo: lo, Hi: hi, Path: l.Letter.File, Offset: l.Letter.Offset, End: true})
				lo = hi + 1 // the comma
			}
			out = append(out, replayBatch{bt: bt, lines: chunk})
		}
	}
	return out
}
