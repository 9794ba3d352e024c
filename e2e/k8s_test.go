package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
// default --format auto; spanshipper is killed with SIGKILL twice between
// rotations and restarted. Every span-end record arrives exactly as mapped
// with the pod's metadata; nothing else arrives; nothing is bad input.
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
	metricsAddr(t, sh) // listening: the pods may start

	runArgs := func(log string) []string {
		return []string{"run", "--format", format, "--log", log, "--rotate-bytes", strconv.Itoa(2 << 20),
			"--max-files", "5", "--", bin("podlog"), "pod"}
	}
	var wholeRunes []string
	if format == "docker" { // json-file writes a character split at 16 KiB as U+FFFD: not the shipper's to mend
		wholeRunes = []string{"--whole-runes"}
	}
	pods := []*proc{
		startProc(t, "pod-agent.log", "podlog", append(append(runArgs(agentLog), "--seed", "1101", "--spans", "1200",
			"--big-fraction", "0.05", "--start-only-fraction", "0.02", "--rate", "400", "--expect", expectAgent), wholeRunes...)...),
		startProc(t, "pod-web.log", "podlog", append(runArgs(webLog), "--seed", "1102", "--spans", "0",
			"--applogs", "3000", "--rate", "250", "--expect", expectWeb)...),
	}

	// Kill between rotations: a rotation while no shipper runs would take
	// the rest of 0.log out of the glob (see the report of issue 11).
	rotations := func() int {
		n, _ := filepath.Glob(agentRotated)
		return len(n)
	}
	for i, after := range []int{1, 3} {
		waitFor(t, fmt.Sprintf("rotation %d of the agent's log", after), func() bool {
			select {
			case <-pods[0].done:
				t.Fatalf("the agent pod ended after %d rotations: %s", rotations(), pods[0].output())
			default:
			}
			return rotations() >= after
		})
		time.Sleep(300 * time.Millisecond) // past --rotate-wait: the runtime writes to the new 0.log
		sh.cmd.Process.Kill()
		sh.wait(t, 30*time.Second)
		sh = startProc(t, fmt.Sprintf("shipper-%d.log", i+1), "spanshipper", args...)
	}
	for _, p := range pods {
		if code := p.wait(t, 2*time.Minute); code != 0 {
			t.Fatalf("pod exit %d: %s", code, p.output())
		}
	}
	gz, _ := filepath.Glob(agentRotated + ".gz")
	if len(gz) < 2 {
		all, _ := filepath.Glob(agentRotated)
		t.Errorf("rotated files %v: want at least 2 gzipped", all)
	}

	ends, startOnly := expectations(t, expectAgent, expectWeb)
	if len(ends) < 1000 || len(startOnly) == 0 {
		t.Fatalf("the agent printed %d span ends and %d start-only spans; the test needs both", len(ends), len(startOnly))
	}
	addr := metricsAddr(t, sh)
	waitFor(t, "every span-end record", func() bool {
		return num(s.stats(t), "items_received") >= float64(len(ends)) && len(s.spans(t)) >= len(ends)
	})
	got := s.spans(t)
	checkDelivered(t, got, ends, startOnly, agent.metadata())
	if len(got) != len(ends) {
		t.Errorf("receiver holds %d spans, want %d: something that is not a span-end record shipped", len(got), len(ends))
	}
	if n := metric(t, addr, `spanshipper_lines_skipped_total{reason="not_span"}`); n == 0 {
		t.Errorf("no line counted as not_span")
	}
	if n := metric(t, addr, "spanshipper_bad_lines_total"); n != 0 {
		t.Errorf("%v bad lines: container log records were read as broken spans:\n%s", n, sh.output())
	}
	t.Logf("%d span ends, %d start-only; %d rotated files gzipped; receiver stats %v", len(ends), len(startOnly), len(gz), s.stats(t))
}
