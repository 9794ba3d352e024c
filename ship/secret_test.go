package ship

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const testKey = "sk-live-0123456789"

// TestSecretNeverShows: a configuration holding the key, printed with every
// fmt verb (also nested in an unexported field, which fmt reads by
// reflection), logged as text and JSON, or marshalled, never shows it.
func TestSecretNeverShows(t *testing.T) {
	cfg := Config{Endpoint: "https://api.example.com", APIKey: NewSecret(testKey), AccountID: "acct"}
	holder := struct{ cfg Config }{cfg} // unexported: fmt cannot call methods
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", &cfg)
		fmt.Fprintf(&out, verb+"\n", holder)
		fmt.Fprintf(&out, verb+"\n", cfg.APIKey)
	}
	fmt.Fprintln(&out, cfg, holder)
	slog.New(slog.NewTextHandler(&out, nil)).Info("cfg", "cfg", cfg, "key", cfg.APIKey, "holder", holder)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("cfg", "cfg", cfg, "key", cfg.APIKey)
	b, err := json.Marshal(struct {
		Endpoint string
		APIKey   Secret
	}{cfg.Endpoint, cfg.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	for _, leak := range []string{testKey, fmt.Sprintf("%x", testKey), fmt.Sprintf("%X", testKey), "0123456789"} {
		if strings.Contains(out.String(), leak) {
			t.Fatalf("the key shows as %q in:\n%s", leak, out.String())
		}
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("no [redacted] in:\n%s", out.String())
	}
	if cfg.APIKey.Reveal() != testKey || !NewSecret("").IsZero() {
		t.Fatal("Reveal or IsZero wrong")
	}
}

// TestSecretNotInPanics: a panic whose value holds the key, and the
// goroutine dump it prints, do not show the key.
func TestSecretNotInPanics(t *testing.T) {
	if os.Getenv("SECRET_PANIC_CHILD") == "1" {
		cfg := Config{APIKey: NewSecret(testKey)}
		panicWith(cfg)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretNotInPanics$")
	cmd.Env = append(os.Environ(), "SECRET_PANIC_CHILD=1", "GOTRACEBACK=all")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "panic:") {
		t.Fatalf("the child did not panic: %v\n%s", err, out)
	}
	if strings.Contains(string(out), testKey) || strings.Contains(string(out), "0123456789") {
		t.Fatalf("the key is in the panic output:\n%s", out)
	}
}

//go:noinline
func panicWith(cfg Config) { panic(fmt.Sprintf("bad config %+v", cfg)) }
