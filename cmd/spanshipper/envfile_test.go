package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEnvFileDocumentsEveryVariable: packaging/systemd/spanshipper.env names
// every flag's variable and upstream alias, and sets nothing that is not one.
func TestEnvFileDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../packaging/systemd/spanshipper.env")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
		if !strings.Contains(text, s.env+"=") {
			t.Errorf("the env file does not document %s (--%s)", s.env, s.flag)
		}
		if !strings.Contains(text, "--"+s.flag) {
			t.Errorf("the env file does not name the flag --%s", s.flag)
		}
		if s.alias != "" {
			known[s.alias] = true
			if !strings.Contains(text, s.alias) {
				t.Errorf("the env file does not mention %s, the alias of --%s", s.alias, s.flag)
			}
		}
	}
	assign := regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]*)=`)
	for _, m := range assign.FindAllStringSubmatch(text, -1) {
		if !known[m[1]] {
			t.Errorf("the env file sets %s, which spanshipper does not read", m[1])
		}
	}
}
