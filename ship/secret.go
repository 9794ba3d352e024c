package ship

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is how a Secret shows everywhere.
const redacted = "[redacted]"

// Secret holds a credential. It prints, logs and marshals as "[redacted]"
// whatever the verb or encoder, so a configuration holding it may be logged
// or dumped; Reveal gives the value to the one place that sends it. The value
// sits behind a pointer, so even fmt's reflection over an unexported field
// shows an address, never the key.
type Secret struct{ p *string }

// NewSecret wraps s; an empty s gives the zero Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the credential.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether no credential is set.
func (s Secret) IsZero() bool { return s.p == nil }

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) Format(f fmt.State, _ rune)   { io.WriteString(f, redacted) }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
