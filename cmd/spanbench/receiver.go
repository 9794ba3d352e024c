package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/sink"
)

// receiver is an in-process spansink that also records when each item was
// acknowledged, keyed by its id.
type receiver struct {
	srv  *http.Server
	addr string
	s    *sink.Server

	mu                      sync.Mutex
	acked                   map[string]time.Time // only when tracking latency
	nullItems, nullRequests int64
	null                    bool // read and count bodies only: the shipper's own ceiling, or spanfloor --raw
	track                   bool
}

func newReceiver(track bool) (*receiver, error) {
	return listen(track, false, "")
}

// receiverFor is the receiver s ships to. For spanfloor --raw, whose items
// are span records as written, it takes any body and counts (and with
// track, records) the items by their leading {"id":".
func receiverFor(s shipper, track bool) (*receiver, error) {
	return listen(track, s.raw, "")
}

// newTLSReceiver is newReceiver serving https (HTTP/2 or HTTP/1.1, as the
// client asks) with a new self-signed certificate for 127.0.0.1, whose PEM
// it writes to dir/ca.pem for the shipper's SSL_CERT_FILE.
func newTLSReceiver(dir string) (*receiver, string, error) {
	ca := filepath.Join(dir, "ca.pem")
	r, err := listen(false, false, ca)
	return r, ca, err
}

func listen(track, raw bool, certFile string) (*receiver, error) {
	var cert tls.Certificate
	if certFile != "" {
		var err error
		if cert, err = selfSigned(certFile); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: ln.Addr().String(), s: sink.New(sink.Config{Discard: true}), track: track, acked: map[string]time.Time{}, null: raw || nullReceiver && !track}
	r.srv = &http.Server{Handler: r}
	if certFile != "" {
		r.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		go r.srv.ServeTLS(ln, "", "")
	} else {
		go r.srv.Serve(ln)
	}
	return r, nil
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1 (what most
// public endpoints present is ECDSA or RSA-2048; the handshake happens once
// per connection, so the key type matters little to a bulk run) and writes
// it to certFile as PEM.
func selfSigned(certFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "spanbench"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

var nullBufs sync.Pool

var idRE = regexp.MustCompile(`\{"id":"([^"]+)"`)

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.null && req.Method == http.MethodPut {
		buf, _ := nullBufs.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		buf.Reset()
		buf.ReadFrom(req.Body)
		n := bytes.Count(buf.Bytes(), []byte(`{"id":"`)) // items start so; generated nested values never do
		r.mu.Lock()
		r.nullItems += int64(n)
		r.nullRequests++
		if r.track {
			r.ack(buf.Bytes())
		}
		r.mu.Unlock()
		nullBufs.Put(buf)
		return
	}
	if !r.track || req.Method != http.MethodPut {
		r.s.ServeHTTP(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &statusRecorder{ResponseWriter: w}
	r.s.ServeHTTP(rec, req)
	if rec.status == 0 || rec.status == 200 {
		r.mu.Lock()
		r.ack(body)
		r.mu.Unlock()
	}
}

// ack records now as the acknowledgement of every item of body not seen
// before; r.mu is held.
func (r *receiver) ack(body []byte) {
	now := time.Now()
	for _, m := range idRE.FindAllSubmatch(body, -1) {
		if _, ok := r.acked[string(m[1])]; !ok {
			r.acked[string(m[1])] = now
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// stats are the sink's counters; a null receiver has only its counts of
// items and requests.
func (r *receiver) stats() sink.Stats {
	if r.null {
		r.mu.Lock()
		defer r.mu.Unlock()
		return sink.Stats{ItemsReceived: r.nullItems, RequestsOK: r.nullRequests}
	}
	rec := &bufferWriter{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/stats", nil)
	r.s.ServeHTTP(rec, req)
	var st sink.Stats
	json.Unmarshal(rec.body, &st)
	return st
}

type bufferWriter struct {
	header http.Header
	body   []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferWriter) WriteHeader(int) {}

func (r *receiver) close() { r.srv.Close() }
