package kubernetes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spanshipper/spanshipper/sink"
	"github.com/spanshipper/spanshipper/spangen"
)

// framer writes one record of a container runtime's log format: content
// (without its newline) printed on stream; partial when the runtime split a
// longer line there.
type framer func(stream string, partial bool, content []byte) []byte

const logTime = "2026-11-26T02:00:00.123456789Z"

// cri is the CRI log format of containerd and CRI-O.
func cri(stream string, partial bool, content []byte) []byte {
	tag := "F"
	if partial {
		tag = "P"
	}
	return fmt.Appendf(nil, "%s %s %s %s\n", logTime, stream, tag, content)
}

// docker is docker's json-file format: a log without its final newline is
// partial.
func docker(stream string, partial bool, content []byte) []byte {
	log := string(content)
	if !partial {
		log += "\n"
	}
	b, _ := json.Marshal(struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}{log, stream, logTime})
	return append(b, '\n')
}

// podLogs writes a node's container logs under host, as the runtimes lay
// them out, and knows which span-end records must arrive with which pod
// metadata.
type podLogs struct {
	t    *testing.T
	host string
	want map[string]map[string]string // trace_id/id → k8s metadata
}

func newPodLogs(t *testing.T, host string) *podLogs {
	return &podLogs{t: t, host: host, want: map[string]map[string]string{}}
}

// splitAt is where the runtimes split long lines (containerd, docker).
const splitAt = 16 << 10

// write writes the log of one container of pod dir <namespace>_<pod>_<uid>
// in format cri or docker, root-owned with mode: spans from spangen, application logs on both
// streams between them, and one span of 40 KiB split into partial records
// with a stderr line in between. A docker log lies in
// /var/lib/docker/containers with a symlink to it in /var/log/pods, as
// cri-dockerd lays it out. Spans of namespace spanshipper are expected not to
// arrive (SPANSHIPPER_EXCLUDE).
func (p *podLogs) write(podDir, container, format string, mode os.FileMode, seed uint64) {
	t := p.t
	frame := map[string]framer{"cri": cri, "docker": docker}[format]
	parts := strings.Split(podDir, "_")
	meta := map[string]string{
		"k8s.namespace.name": parts[0], "k8s.pod.name": parts[1], "k8s.pod.uid": parts[2], "k8s.container.name": container,
	}
	expect := func(line []byte) {
		var r struct {
			ID      string  `json:"id"`
			TraceID string  `json:"trace_id"`
			EndTime *string `json:"end_time"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.EndTime != nil && parts[0] != namespace {
			p.want[r.TraceID+"/"+r.ID] = meta
		}
	}

	var log []byte
	g := spangen.New(spangen.Options{Seed: seed, Spans: 200})
	for line, ok := g.Next(nil); ok; line, ok = g.Next(line[:0]) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		expect(line)
		log = append(log, frame("stdout", false, line)...)
		if g.Stats().Lines%10 == 0 {
			log = append(log, frame("stderr", false, []byte("WARNING retrying the model call (attempt 2)"))...)
			log = append(log, frame("stdout", false, []byte(`{"level":"info","msg":"tool call done","trace_id":"not-a-span"}`))...)
		}
	}
	big := fmt.Appendf(nil, `{"id":"big-%d","trace_id":"trace-big-%d","name":"long answer","start_time":"2026-11-26T02:00:00Z","end_time":"2026-11-26T02:00:09Z","data":{"answer":"%s"}}`,
		seed, seed, strings.Repeat("x", 40<<10))
	expect(big)
	for rest := big; len(rest) > 0; {
		n := min(len(rest), splitAt)
		log = append(log, frame("stdout", n < len(rest), rest[:n])...)
		rest = rest[n:]
		if len(rest) > 0 {
			log = append(log, frame("stderr", false, []byte("Traceback (most recent call last):"))...)
		}
	}

	dir := filepath.Join(p.host, "var/log/pods", podDir, container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "0.log")
	if format == "docker" {
		cid := fmt.Sprintf("%064x", seed)
		ddir := filepath.Join(p.host, "var/lib/docker/containers", cid)
		if err := os.MkdirAll(ddir, 0o710); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{ddir, filepath.Dir(ddir)} {
			if err := os.Chmod(d, 0o710); err != nil { // as docker makes them
				t.Fatal(err)
			}
		}
		target := filepath.Join(ddir, cid+"-json.log")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		path = target
	}
	if err := os.WriteFile(path, log, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

// check: the receiver holds exactly the expected span-end records, each
// with its pod's metadata, and spanshipper's output reports no bad input
// (application logs are not_span, not bad).
func (p *podLogs) check(t *testing.T, s *sink.Server, out string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/spans", nil))
	got := 0
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var item struct {
			ID       string         `json:"id"`
			TraceID  string         `json:"trace_id"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil {
			t.Fatalf("receiver item: %v", err)
		}
		key := item.TraceID + "/" + item.ID
		want, ok := p.want[key]
		if !ok {
			t.Errorf("span %s arrived, which no followed pod ended (an excluded pod's?)", key)
			continue
		}
		got++
		for k, v := range want {
			if item.Metadata[k] != v {
				t.Errorf("span %s: metadata %s = %v, want %q", key, k, item.Metadata[k], v)
			}
		}
	}
	if st := s.Stats(); got != len(p.want) || st.Completed != int64(len(p.want)) {
		t.Errorf("%d of %d span-end records arrived (receiver: %d completed)\n%s", got, len(p.want), st.Completed, out)
	}
	if strings.Contains(out, "skipping bad input line") {
		t.Errorf("application log lines were taken for bad input\n%s", out)
	}
}
