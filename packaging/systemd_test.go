package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitSettings parses a unit file into section.Key -> values.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestUnitVerifies: systemd-analyze verify accepts the unit without a
// single warning (a misspelt key is only a warning, so any output fails).
// ExecStart must name an existing executable, so the check runs on a copy
// that points at a freshly built spanshipper.
func TestUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	binary := filepath.Join(dir, "spanshipper")
	run(t, repoRoot(t), "go", "build", "-o", binary, "./cmd/spanshipper")
	unit, err := os.ReadFile("systemd/spanshipper.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/spanshipper\n") {
		t.Fatal("ExecStart is not /usr/bin/spanshipper, where the packages install it")
	}
	copyPath := filepath.Join(dir, "spanshipper.service")
	os.WriteFile(copyPath, []byte(strings.Replace(string(unit), "ExecStart=/usr/bin/spanshipper", "ExecStart="+binary, 1)), 0o644)

	verify := func(path string) (string, error) {
		cmd := exec.Command(analyze, "verify", "--man=no", path)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify(copyPath); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check can fail: a misspelt directive is reported.
	bad := filepath.Join(dir, "bad.service")
	os.WriteFile(bad, []byte(strings.Replace(string(unit), "ExecStart=/usr/bin/spanshipper", "ExecStart="+binary, 1)+"\n[Service]\nProtectSytem=strict\n"), 0o644)
	if out, _ := verify(bad); !strings.Contains(out, "ProtectSytem") {
		t.Fatalf("a misspelt key passed systemd-analyze verify: %q", out)
	}
}

// TestUnitHardening: the directives the design requires are there with the
// values it requires.
func TestUnitHardening(t *testing.T) {
	u := unitSettings(t, "systemd/spanshipper.service")
	want := map[string]string{
		"Service.Type":                     "notify",
		"Service.NotifyAccess":             "main",
		"Service.User":                     "spanshipper",
		"Service.Group":                    "spanshipper",
		"Service.StateDirectory":           "spanshipper",
		"Service.NoNewPrivileges":          "yes",
		"Service.ProtectSystem":            "strict",
		"Service.ProtectHome":              "yes",
		"Service.PrivateTmp":               "yes",
		"Service.Restart":                  "on-failure",
		"Service.EnvironmentFile":          "/etc/spanshipper/spanshipper.env",
		"Service.RestartPreventExitStatus": "2",
		"Service.CapabilityBoundingSet":    "",
		"Install.WantedBy":                 "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if ro := u["Service.ReadOnlyPaths"]; len(ro) == 0 || !strings.Contains(strings.Join(ro, " "), "/var/log/agents") {
		t.Errorf("the span directory is not read-only: ReadOnlyPaths = %q", ro)
	}
	wd, err := time.ParseDuration(strings.Join(u["Service.WatchdogSec"], ""))
	if err != nil || wd < 10*time.Second {
		t.Errorf("WatchdogSec = %q: want a duration of at least 10s", u["Service.WatchdogSec"])
	}
	stop, err := time.ParseDuration(strings.Join(u["Service.TimeoutStopSec"], ""))
	if err != nil || stop <= 10*time.Second {
		t.Errorf("TimeoutStopSec = %q: must exceed the default --shutdown-timeout of 10s", u["Service.TimeoutStopSec"])
	}
}
