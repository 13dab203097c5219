package cli_test

import (
	"bufio"
	"bytes"
	"context"
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
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/cli"
)

// serving is a `ramp serve` running in process.
type serving struct {
	url   string   // from the "listening" line
	seen  []string // messages logged before it
	lines chan map[string]any
	exit  chan int
	stop  context.CancelFunc // what SIGINT or SIGTERM does
}

// startServe runs `ramp --db r.db serve ARGS…` in process and waits for
// the line that says where it listens.
func startServe(t *testing.T, r *ramp, args ...string) *serving {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &serving{lines: make(chan map[string]any, 100), exit: make(chan int, 1), stop: cancel}
	go func() {
		code := cli.Execute(ctx, append([]string{"--db", r.db, "serve"}, args...),
			&cli.IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: pw})
		pw.Close()
		s.exit <- code
	}()
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("stderr line is not JSON: %s", sc.Text())
				continue
			}
			s.lines <- m
		}
	}()
	for s.url == "" {
		select {
		case m, ok := <-s.lines:
			if !ok {
				t.Fatalf("ramp serve ended (exit %d) before listening; logged %v", <-s.exit, s.seen)
			}
			s.seen = append(s.seen, m["msg"].(string))
			if m["msg"] == "listening" {
				s.url = m["url"].(string)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no listening line; logged %v", s.seen)
		}
	}
	return s
}

// TestServe runs `ramp serve --addr 127.0.0.1:0` in process, finds the port
// in its first log line, asks it for a decision, and stops it as a signal
// would.
func TestServe(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	s := startServe(t, r, "--addr", "127.0.0.1:0", "--insecure-no-auth", "--poll", "50ms")
	if !strings.Contains(strings.Join(s.seen, "|"), "AUTHENTICATION IS OFF") {
		t.Errorf("no warning about --insecure-no-auth before listening: %v", s.seen)
	}
	resp, err := http.Post(s.url+"/ofrep/v1/evaluate/flags/common-mailbox", "application/json", strings.NewReader(`{"context":{"targetingKey":"emp-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"value":true`) {
		t.Errorf("evaluate: %d %s", resp.StatusCode, body)
	}

	s.stop()
	var last []string
	for m := range s.lines {
		last = append(last, m["msg"].(string))
	}
	if code := <-s.exit; code != cli.ExitOK {
		t.Errorf("exit %d after shutdown", code)
	}
	if got := strings.Join(last, "|"); !strings.Contains(got, "shutting down") || !strings.HasSuffix(got, "stopped") {
		t.Errorf("shutdown log: %v", last)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files
// and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ramp test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestServeTLS serves HTTPS with a certificate made for the test and asks
// for a decision with a client that trusts only that certificate, over
// HTTP/2; a plain HTTP request to the same port gets no decision.
func TestServeTLS(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	certFile, keyFile, pool := selfSigned(t)
	s := startServe(t, r, "--addr", "127.0.0.1:0", "--insecure-no-auth", "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimPrefix(s.url, "http://")

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Post("https://"+addr+"/ofrep/v1/evaluate/flags/common-mailbox", "application/json", strings.NewReader(`{"context":{"targetingKey":"emp-1"}}`))
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"value":true`) {
		t.Errorf("evaluate over HTTPS: %d %s", resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.ProtoMajor != 2 {
		t.Errorf("answered over %s, TLS %v: want HTTP/2 over TLS", resp.Proto, resp.TLS != nil)
	}

	plain := &http.Client{Timeout: 30 * time.Second}
	if resp, err := plain.Post("http://"+addr+"/ofrep/v1/evaluate/flags/common-mailbox", "application/json", strings.NewReader(`{}`)); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP to the TLS port answered 200: %s", body)
		}
	}
	s.stop()
	for range s.lines {
	}
	if code := <-s.exit; code != cli.ExitOK {
		t.Errorf("exit %d after shutdown", code)
	}
}

func TestServeUsage(t *testing.T) {
	r := newRamp(t)
	for _, args := range [][]string{
		{"serve", "--rate-limit", "fast"},
		{"serve", "--rate-limit", "-3"},
		{"serve", "--auth-failure-limit", "-1"},
		{"serve", "--auth-failure-limit", "lots"},
		{"serve", "--log-level", "loud"},
		{"serve", "--poll", "0s"},
		{"serve", "--tracking-writers", "-1"},
		{"serve", "--tracking-writers", "257"},
		{"serve", "extra"},
		{"serve", "--tls-cert", "cert.pem"},
		{"serve", "--tls-key", "key.pem"},
		// Without authentication the admin API would take changes from
		// anyone who can reach the address: loopback only.
		{"serve", "--insecure-no-auth", "--addr", "0.0.0.0:0"},
		{"serve", "--insecure-no-auth", "--addr", ":0"},
	} {
		if _, errOut, code := r.run("", args...); code != cli.ExitUsage {
			t.Errorf("ramp %v: exit %d, want %d\n%s", args, code, cli.ExitUsage, errOut)
		}
	}
}

// TestServeTLSFiles refuses certificate files that cannot be read as a
// pair, as invalid input, before listening.
func TestServeTLSFiles(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	certFile, _, _ := selfSigned(t)
	_, otherKey, _ := selfSigned(t)
	for name, args := range map[string][]string{
		"missing files":   {"--tls-cert", filepath.Join(t.TempDir(), "none.crt"), "--tls-key", filepath.Join(t.TempDir(), "none.key")},
		"key of another":  {"--tls-cert", certFile, "--tls-key", otherKey},
		"key as the cert": {"--tls-cert", otherKey, "--tls-key", otherKey},
	} {
		if _, errOut, code := r.run("", append([]string{"serve", "--addr", "127.0.0.1:0", "--insecure-no-auth"}, args...)...); code != cli.ExitInvalid {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, cli.ExitInvalid, errOut)
		}
	}
}
