package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/orphan"
)

// fileStatus is one line of `spanshipper status`.
type fileStatus struct {
	Path       string    `json:"path"`
	Offset     int64     `json:"offset"`
	Size       int64     `json:"size"`   // current size, -1 when the file is gone
	Behind     int64     `json:"behind"` // bytes not yet final
	Updated    time.Time `json:"updated"`
	AgeSeconds float64   `json:"checkpoint_age_seconds"`
	Exists     bool      `json:"exists"`
	SameFile   bool      `json:"same_file"` // the path still leads to the checkpointed file
}

func runStatus(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("status", flag.ContinueOnError)
	fset.SetOutput(stderr)
	dir := fset.String("state-dir", DefaultConfig().StateDir, "state directory (SPANSHIPPER_STATE_DIR, STATE_DIRECTORY)")
	asJSON := fset.Bool("json", false, "print JSON")
	if v, ok := getenv("SPANSHIPPER_STATE_DIR"); ok && v != "" {
		*dir = v
	} else if v, ok := getenv("STATE_DIRECTORY"); ok && v != "" {
		*dir = v
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	st, err := checkpoint.Load(*dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "spanshipper: no checkpoint in %s yet\n", *dir)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 1
	}
	held, err := orphan.Count(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 1
	}
	now := time.Now()
	rows := make([]fileStatus, 0, len(st.Files))
	for _, e := range st.Files {
		r := fileStatus{Path: e.Path, Offset: e.Offset, Size: -1, Updated: e.Updated, AgeSeconds: now.Sub(e.Updated).Seconds()}
		if fi, err := os.Stat(e.Path); err == nil {
			r.Exists = true
			r.Size = fi.Size()
			r.SameFile = sameFile(fi, e)
			if r.SameFile {
				r.Behind = max(0, r.Size-e.Offset)
			}
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			StateDir  string       `json:"state_dir"`
			Written   time.Time    `json:"written"`
			HeldStart int          `json:"held_span_starts"` // journaled, see orphan.Count
			Files     []fileStatus `json:"files"`
		}{*dir, st.Written, held, rows})
		return 0
	}
	fmt.Fprintf(stdout, "checkpoint %s, written %s ago\n", *dir, now.Sub(st.Written).Round(time.Second))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tOFFSET\tSIZE\tBEHIND\tCHECKPOINT AGE")
	for _, r := range rows {
		size, behind := fmt.Sprint(r.Size), fmt.Sprint(r.Behind)
		switch {
		case !r.Exists:
			size, behind = "gone", "-"
		case !r.SameFile:
			behind = "replaced"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Path, r.Offset, size, behind, time.Duration(r.AgeSeconds*float64(time.Second)).Round(time.Second))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "held span starts: %d (awaiting their end or --orphan-after)\n", held)
	return 0
}

func sameFile(fi os.FileInfo, e checkpoint.Entry) bool {
	s, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(s.Dev) == e.Dev && s.Ino == e.Ino
}
