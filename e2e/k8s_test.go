package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"github.com/spanshipper/spanshipper/checkpoint"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// podlog (e2e/podlog, a nested module) is built on first use: it links
// containerd's and docker's loggers, which the shipper never does.
var podlogBuild struct {
	once sync.Once
	err  error
}

// needPodlog builds podlog into binDir. A failed build skips the test,
// unless SPANSHIPPER_REQUIRE_TOOLS is set (CI), where it fails.
func needPodlog(t *testing.T) {
	t.Helper()
	podlogBuild.once.Do(func() {
		b := exec.Command("go", "build", "-C", "../e2e/podlog", "-o", bin("podlog"), ".")
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			podlogBuild.err = fmt.Errorf("build podlog: %v\n%s", err, out)
		}
	})
	if podlogBuild.err == nil {
		return
	}
	if os.Getenv("SPANSHIPPER_REQUIRE_TOOLS") == "" {
		t.Skip(podlogBuild.err)
	}
	t.Fatal(podlogBuild.err)
}

// k8sPod is a pod on the fake node: its kubelet log directory and the
// metadata the shipper derives from it.
type k8sPod struct {
	ns, name, uid, container string
}

func (p k8sPod) dir(root string) string {
	return filepath.Join(root, "pods", p.ns+"_"+p.name+"_"+p.uid, p.container)
}

func (p k8sPod) metadata() map[string]string {
	return map[string]string{"k8s.namespace.name": p.ns, "k8s.pod.name": p.name,
		"k8s.pod.uid": p.uid, "k8s.container.name": p.container}
}

// logPath lays out the pod's 0.log and returns where the runtime writes
// it and where its rotated files go. containerd writes 0.log itself; on a
// docker node (cri-dockerd) 0.log is a symlink to docker's json-file log.
func (p k8sPod) logPath(t *testing.T, root, format string) (target, rotatedGlob string) {
	t.Helper()
	dir := p.dir(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "0.log")
	if format == "cri" {
		return link, link + ".*"
	}
	id := strings.Repeat(strings.ReplaceAll(p.uid, "-", "")[:16], 4)
	cdir := filepath.Join(root, "docker", "containers", id)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	target = filepath.Join(cdir, id+"-json.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return target, target + ".*"
}

// TestKubernetesNode: two pods under a real container runtime logger (cri:
// containerd's, docker: json-file), one printing spans (some over 16 KiB,
// split into partial records) among app logs, one printing only app logs,
// both with warnings and tracebacks on stderr. The runtime rotates the logs
// with gzip while spanshipper follows /var/log/pods/*/*/*.log in the
// default --format auto; spanshipper is killed with SIGKILL twice and
// restarted, for cri once with a rotation while it is down. Every span-end record arrives exactly as mapped
// with the pod's metadata; nothing else arrives; nothing is bad input.
// Both runtimes split a line in progress at a rotation between the two
// files; span ends lost that way are reported apart.
func TestKubernetesNode(t *testing.T) {
	for _, format := range []string{"cri", "docker"} {
		t.Run(format, func(t *testing.T) { testKubernetesNode(t, format) })
	}
}

func testKubernetesNode(t *testing.T, format string) {
	needPodlog(t)
	root := t.TempDir()
	agent := k8sPod{"agents", "planner-7d9f8c6b5-x2k4q", "3f1c9a52-8e0b-4d1e-9a77-2b6f0c1d4e58", "agent"}
	web := k8sPod{"web", "frontend-5c8d7f9b4-q7zt2", "9b2e4f61-0c3a-4b7d-8e15-6a9d2c4f7b30", "app"}
	agentLog, agentRotated := agent.logPath(t, root, format)
	webLog, _ := web.logPath(t, root, format)
	expectAgent, expectWeb := filepath.Join(root, "expect-agent.jsonl"), filepath.Join(root, "expect-web.jsonl")

	s := startSink(t)
	args := []string{"--path", filepath.Join(root, "pods", "*", "*", "*.log"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(root, "state"), "--listen", "127.0.0.1:0"}
	sh := startProc(t, "shipper-0.log", "spanshipper", args...)
	addr := metricsAddr(t, sh) // listening: the pods may start
	shippers := []*proc{sh}
	defer func() {
		if keep := os.Getenv("SPANSHIPPER_E2E_KEEP"); keep != "" && t.Failed() {
			// Everything the test saw, for a look after it failed.
			dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
			os.RemoveAll(dst)
			if out, err := exec.Command("cp", "-a", root, dst).CombinedOutput(); err != nil {
				t.Logf("keeping %s: %v %s", root, err, out)
			}
			t.Logf("kept %s in %s", root, dst)
		}
		if t.Failed() {
			for i, p := range shippers {
				t.Logf("spanshipper run %d's output:\n%s", i, p.output())
			}
		}
	}()

	// The agent's rotated files stay (20 files), so the test can see which
	// partial groups went on from one file into the next; the web pod's
	// are gzipped and deleted (2 files).
	// For cri, kubelet's reopen comes while a span-end record is half
	// written, so a span goes on from each rotated file into the next
	// (docker's rotation splits some on its own).
	runArgs := func(log string, rotateBytes, maxFiles int) []string {
		a := []string{"run", "--format", format, "--log", log, "--rotate-bytes", strconv.Itoa(rotateBytes),
			"--max-files", strconv.Itoa(maxFiles)}
		if format == "cri" {
			a = append(a, "--reopen-mid-span")
		}
		return append(a, "--", bin("podlog"), "pod")
	}
	var wholeRunes []string
	if format == "docker" { // json-file writes a character split at 16 KiB as U+FFFD: not the shipper's to mend
		wholeRunes = []string{"--whole-runes"}
	}
	pods := []*proc{
		startProc(t, "pod-agent.log", "podlog", append(append(runArgs(agentLog, 2<<20, 20), "--seed", "1101", "--spans", "1400",
			"--big-fraction", "0.05", "--start-only-fraction", "0.02", "--rate", "200", "--expect", expectAgent), wholeRunes...)...),
		startProc(t, "pod-web.log", "podlog", append(runArgs(webLog, 512<<10, 2), "--seed", "1102", "--spans", "0",
			"--applogs", "3000", "--rate", "150", "--expect", expectWeb)...),
	}

	// For cri the first kill lets the kubelet rotate the log while no
	// shipper runs, the second comes just after a rotation, while the
	// renamed file is draining and the line the rotation split is in
	// flight: each restart finds the renamed file beside 0.log, drains it
	// from its checkpoint and joins the split line (tailer.recoverRenamed,
	// agent/carry.go). Each kill comes once the checkpoint held only the
	// current log (the kubelet compresses the older renamed files, and a
	// compressed file is not read). Docker compresses a renamed file at
	// once, so there the kill waits for that, and a rotation while down
	// would lose the renamed file's unread rest (tailer/design.md): the
	// pods are paused (SIGSTOP) while the shipper is down, as they are for
	// cri's second kill.
	rotations := func() int {
		names, _ := filepath.Glob(agentRotated)
		seen := map[string]bool{}
		for _, n := range names {
			if !strings.HasSuffix(n, ".tmp") {
				seen[strings.TrimSuffix(n, ".gz")] = true
			}
		}
		return len(seen)
	}
	link := filepath.Join(agent.dir(root), "0.log")
	var badLines, notSpan float64    // over every run of the shipper
	var killedAfter, whileDown []int // rotations before each kill, and while the shipper was down
	signalPods := func(sig syscall.Signal) {
		for _, p := range pods {
			p.cmd.Process.Signal(sig)
		}
	}
	// pausePods stops the runtimes (SIGSTOP), never between a rename of
	// the agent's log and the reopen: a renamed file the runtime goes on
	// writing after a pause longer than the shipper's RotateWait is
	// outside what the shipper can see (tailer/design.md). The pods
	// themselves go on at their rate once the runtimes resume, not in a
	// burst. (The web pod prints no spans: with --reopen-mid-span its
	// runtime waits 5 s to reopen, and its lines may be lost.)
	logOpen := func() bool {
		_, err := os.Stat(link)
		return err == nil
	}
	pausePods := func() {
		for {
			waitFor(t, "the runtime to reopen the agent's log", logOpen)
			signalPods(syscall.SIGSTOP)
			if logOpen() {
				return
			}
			signalPods(syscall.SIGCONT)
		}
	}
	rotation := func(what string, after int) {
		waitFor(t, what, func() bool {
			if rotations() > after {
				return true
			}
			select {
			case <-pods[0].done:
				t.Fatalf("the agent pod ended after %d rotations: %s", rotations(), pods[0].output())
			default:
			}
			return false
		})
	}
	for i, n := range []int{1, 3} {
		rotation(fmt.Sprintf("rotation %d of the agent's log", n), n-1)
		// Rotations come every few seconds, each renamed file kept in the
		// checkpoint for RotateWait and until the line the rotation split
		// is acknowledged: the pods are paused until the checkpoint holds
		// only the current log. A pause before the rest of the split line
		// is written cannot get there: then the pods go on a little and
		// are paused again.
		for deadline := time.Now().Add(2 * time.Minute); ; {
			pausePods()
			ok, held := false, ""
			for quiet := time.Now().Add(5 * time.Second); !ok && time.Now().Before(quiet); time.Sleep(20 * time.Millisecond) {
				ok, held = followsOnlyCurrent(t, filepath.Join(root, "state"), link, format == "docker")
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the checkpoint never held only the agent's current log (%s)", held)
			}
			signalPods(syscall.SIGCONT)
			time.Sleep(300 * time.Millisecond)
		}
		rotateWhileDown := format == "cri" && i == 0
		if format == "cri" {
			signalPods(syscall.SIGCONT)
		}
		if format == "cri" && i == 1 {
			// Kill just after the next rotation: the renamed file is
			// draining, the line the rotation split not yet joined.
			rotation("the next rotation of the agent's log", rotations())
			pausePods()
		}
		badLines += metric(t, addr, "spanshipper_bad_lines_total")
		notSpan += metric(t, addr, `spanshipper_lines_skipped_total{reason="not_span"}`)
		before := rotations()
		killedAfter = append(killedAfter, before)
		sh.cmd.Process.Kill()
		sh.wait(t, 30*time.Second)
		if rotateWhileDown {
			rotation("a rotation of the agent's log while the shipper is down", before)
		}
		sh = startProc(t, fmt.Sprintf("shipper-%d.log", i+1), "spanshipper", args...)
		shippers = append(shippers, sh)
		addr = metricsAddr(t, sh)
		whileDown = append(whileDown, rotations()-before)
		if format == "cri" {
			waitFor(t, "the shipper to find the renamed log", func() bool {
				return strings.Contains(sh.output(), "renamed away while spanshipper was down")
			})
		}
		if !rotateWhileDown {
			signalPods(syscall.SIGCONT)
		}
	}
	for _, p := range pods {
		if code := p.wait(t, 2*time.Minute); code != 0 {
			t.Fatalf("pod exit %d: %s", code, p.output())
		}
	}
	rotated, _ := filepath.Glob(agentRotated)
	gz, _ := filepath.Glob(agentRotated + ".gz")
	if len(gz) < 2 {
		t.Errorf("rotated files %v: want at least 2 gzipped", rotated)
	}

	ends, startOnly := expectations(t, expectAgent, expectWeb)
	if len(ends) < 1300 || len(startOnly) == 0 {
		t.Fatalf("the agent printed %d span ends and %d start-only spans; the test needs both", len(ends), len(startOnly))
	}
	// Poll for completion; on timeout the checks below say what is missing.
	var got map[string]json.RawMessage
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if num(s.stats(t), "items_received") < float64(len(ends)) {
			continue
		}
		if got = s.spans(t); len(got) >= len(ends) {
			break
		}
	}
	got = s.spans(t)
	badLines += metric(t, addr, "spanshipper_bad_lines_total")
	notSpan += metric(t, addr, `spanshipper_lines_skipped_total{reason="not_span"}`)

	// Span ends whose partial group went on in the next file are named
	// apart: reassembling them needs the group carried across the rotation.
	straddling, straddlingAll, logged := straddlingSpans(t, agentLog, agentRotated, format == "docker")
	printed, _ := os.ReadFile(expectAgent)
	if !bytes.Equal(bytes.Join(logged, nil), printed) { // a fault of podlog's, not the shipper's
		t.Errorf("the agent's log files, joined, do not hold the %d span lines the pod printed (%d found)", bytes.Count(printed, []byte("\n")), len(logged))
	}
	var lost []string
	for k, rot := range straddling {
		if _, ok := got[k]; !ok {
			lost = append(lost, fmt.Sprintf("%s (rotation %d)", k, rot))
			delete(ends, k)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d span-end records whose partial group went on in the next file after a rotation are missing (the shipper was killed after rotations %v, with %v rotations while it was down), e.g. %v: "+
			"an open group must be carried across the rotation", len(lost), len(straddling), killedAfter, whileDown, lost[:min(3, len(lost))])
	}
	if t.Failed() || len(got) < len(ends) {
		t.Logf("the shipper was killed after rotations %v, with %v rotations while it was down", killedAfter, whileDown)
	}
	checkDelivered(t, got, ends, startOnly, agent.metadata())
	for k := range got {
		if _, ok := ends[k]; !ok && straddling[k] == 0 {
			t.Errorf("%s arrived: not a span-end record the pods printed", k)
		}
	}
	if notSpan == 0 {
		t.Errorf("no line counted as not_span")
	}
	if badLines > float64(straddlingAll) {
		t.Errorf("%v bad lines (%d span records went on in the next file after a rotation): container log records were read as broken spans", badLines, straddlingAll)
	}
	t.Logf("%d span ends (%d of them in groups across a rotation), %d start-only; %d rotated files of the agent's log, %d gzipped; "+
		"%v lines not spans; receiver stats %v", len(ends)+len(lost), len(straddling), len(startOnly), len(rotated), len(gz), notSpan, s.stats(t))
}

// followsOnlyCurrent reports whether the shipper's checkpoint holds the
// file now at path and no other file found there (a rotated one that is
// still being drained or has records in flight), with its offset past the
// file's first complete stdout line: a line that the rotation split
// between the old file and this one is then joined and acknowledged (the
// old file's entry stays until it is, so this part is implied). It
// describes the entries.
func followsOnlyCurrent(t *testing.T, stateDir, path string, docker bool) (bool, string) {
	f, err := os.Open(path)
	if err != nil {
		return false, err.Error() // between rename and reopen
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err.Error()
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	firstLine := int64(-1) // where the first complete stdout line ends
	r := bufio.NewReader(f)
	for off := int64(0); firstLine < 0; {
		rec, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		off += int64(len(rec))
		if stream, partial, _ := containerRecord(rec[:len(rec)-1], docker); stream == "stdout" && !partial {
			firstLine = off
		}
	}
	cp, err := checkpoint.Load(stateDir)
	if err != nil {
		return false, err.Error()
	}
	n, ok := 0, false
	held := fmt.Sprintf("now inode %d, size %d, first stdout line ends at %d;", ino, st.Size(), firstLine)
	for _, e := range cp.Files {
		if e.Path == path {
			n++
			ok = ok || e.Ino == ino && firstLine >= 0 && e.Offset >= firstLine
			held += fmt.Sprintf(" inode %d offset %d size %d updated %s;", e.Ino, e.Offset, e.Size, e.Updated.Format(time.StampMilli))
		}
	}
	return n == 1 && ok, held
}

// straddlingSpans reads a container log and its rotated files, oldest
// first, and finds the span records whose partial group began in one file
// and went on in the next: it returns the span ends among them, each with
// the rotation it went across (1: the first), and how many there were of
// either kind.
func straddlingSpans(t *testing.T, log, rotatedGlob string, docker bool) (ends map[string]int, spans int, lines [][]byte) {
	t.Helper()
	files, _ := filepath.Glob(rotatedGlob)
	base := func(n string) string { return strings.TrimSuffix(n, ".gz") }
	sort.Slice(files, func(i, j int) bool {
		if docker { // .1 is the newest
			a, _ := strconv.Atoi(filepath.Ext(base(files[i]))[1:])
			b, _ := strconv.Atoi(filepath.Ext(base(files[j]))[1:])
			return a > b
		}
		return base(files[i]) < base(files[j])
	})
	type group struct {
		content []byte
		crossed int // the rotation it went across, 0 for none
	}
	ends = map[string]int{}
	open := map[string]*group{} // by stream
	spanKey := regexp.MustCompile(`^\{"id":"([^"]+)".*?"end_time":(null|"[^"]+"),"trace_id":"([^"]+)"`)
	for i, name := range append(files, log) {
		for _, g := range open {
			if g.crossed == 0 {
				g.crossed = i
			}
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			stream, partial, content := containerRecord(sc.Bytes(), docker)
			g := open[stream]
			if g == nil {
				g = &group{}
				open[stream] = g
			}
			g.content = append(g.content, content...)
			if partial {
				continue
			}
			delete(open, stream)
			if stream == "stdout" && bytes.HasPrefix(g.content, []byte(`{"id":`)) {
				// docker's log keeps the line's "\n"; CRI's content has none
				lines = append(lines, append(bytes.TrimSuffix(g.content, []byte("\n")), '\n'))
			}
			if m := spanKey.FindSubmatch(g.content); m != nil && g.crossed > 0 {
				spans++
				if string(m[2]) != "null" {
					ends[string(m[3])+"/"+string(m[1])] = g.crossed
				}
			}
		}
		f.Close()
	}
	return ends, spans, lines
}

// containerRecord splits one CRI or docker json-file record.
func containerRecord(line []byte, docker bool) (stream string, partial bool, content []byte) {
	if docker {
		var m struct{ Log, Stream string }
		json.Unmarshal(line, &m)
		return m.Stream, !strings.HasSuffix(m.Log, "\n"), []byte(m.Log)
	}
	f := bytes.SplitN(line, []byte(" "), 4)
	if len(f) < 4 {
		return "", false, nil
	}
	return string(f[1]), string(f[2]) == "P", f[3]
}
