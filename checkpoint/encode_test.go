package checkpoint

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// strs are the strings worth trying: every escape encoding/json makes,
// invalid UTF-8, multi-byte runes, and plain paths.
var strs = []string{
	"", "/var/log/pods/ns_pod_0c1d/app/0.log", "a\"b\\c", "tab\there\nnl\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "<script>&amp;</script>", "line\u2028sep\u2029", "bad\xffutf8\xc3",
	"ünïcödé/日本語/😀", "\xed\xa0\x80", "span", "cri", "docker",
}

func randString(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return strs[rng.IntN(len(strs))]
	}
	b := make([]byte, rng.IntN(40))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return string(b)
}

func randTime(rng *rand.Rand) time.Time {
	t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
	if rng.IntN(4) == 0 {
		t = t.Truncate(time.Second)
	}
	if rng.IntN(4) == 0 { // a checkpoint written elsewhere, in another zone
		t = t.In(time.FixedZone("", (rng.IntN(49)-24)*1800))
	}
	return t
}

func TestAppendStateMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		st := State{Version: rng.IntN(3), Written: randTime(rng)}
		if round%50 != 0 {
			st.Files = []Entry{}
		}
		for range rng.IntN(8) {
			st.Files = append(st.Files, Entry{
				Path: randString(rng), Dev: rng.Uint64(), Ino: rng.Uint64(),
				Fingerprint: randString(rng), FingerprintSize: rng.Int64N(2048),
				Offset: rng.Int64(), Size: rng.Int64() - rng.Int64(), Updated: randTime(rng),
				Format: []string{"", "span", "cri", randString(rng)}[rng.IntN(4)],
			})
		}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendState(nil, &st); !bytes.Equal(got, want) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}
