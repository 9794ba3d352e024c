package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInsecureHTTP: a key over http:// to a host that is not loopback exits
// 2 naming --insecure-http and its variable, which allow it; loopback and
// https need nothing.
func TestInsecureHTTP(t *testing.T) {
	remote := []string{"--path", "/x/*.jsonl", "--endpoint", "http://spans.example.com"}
	var out, errb bytes.Buffer
	if code := run(remote, env(), &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--insecure-http") || !strings.Contains(errb.String(), "SPANSHIPPER_INSECURE_HTTP") ||
		!strings.Contains(errb.String(), "clear text") {
		t.Fatalf("exit %d, message %q: want 2 naming --insecure-http (SPANSHIPPER_INSECURE_HTTP)", code, errb.String())
	}
	ok := []struct {
		args []string
		env  func(string) (string, bool)
	}{
		{append(remote, "--insecure-http"), env()},
		{remote, env("SPANSHIPPER_INSECURE_HTTP", "true")},
		{[]string{"--path", "/x/*.jsonl", "--endpoint", "http://127.0.0.1:8080"}, env()},
		{[]string{"--path", "/x/*.jsonl", "--endpoint", "http://localhost:8080"}, env()},
		{[]string{"--path", "/x/*.jsonl", "--endpoint", "https://spans.example.com"}, env()},
	}
	for _, c := range ok {
		if _, _, err := LoadConfig(c.args, c.env); err != nil {
			t.Errorf("%v: %v", c.args, err)
		}
	}
}
