package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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
	"testing"
	"time"
)

// lines is an io.Writer that hands each line written on a channel.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	c   chan string
}

func newLines() *lines { return &lines{c: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.c <- line
	}
}

// next returns the next line, or fails after 20s.
func (l *lines) next(t *testing.T) string {
	t.Helper()
	select {
	case line := <-l.c:
		return line
	case <-time.After(20 * time.Second):
		t.Fatal("no line in 20s")
		return ""
	}
}

// serve runs "evstore serve" with args until the test ends (or stop is
// called), and returns the base URL it prints.
func serve(t *testing.T, args ...string) (url string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := newLines(), newLines()
	status := make(chan int, 1)
	go func() { status <- run(ctx, append([]string{"serve"}, args...), out, errOut) }()
	var line string
	select {
	case line = <-out.c:
	case s := <-status:
		cancel()
		t.Fatalf("serve %v: status %d before listening", args, s)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not listen in 20s")
	}
	m := regexp.MustCompile(`listening on (https?://\S+)`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("serve printed %q", line)
	}
	stopped := false
	stop = func() int {
		stopped = true
		cancel()
		select {
		case s := <-status:
			if s == 0 && !strings.Contains(out.next(t), "stopped") {
				t.Error("serve did not say it stopped")
			}
			return s
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop in 20s")
			return -1
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return m[1], stop
}

// TestServe: "evstore serve" serves the API on the file, with the store's
// telemetry at /metrics, and stops on its context's end with status 0.
func TestServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "serve.db")
	url, stop := serve(t, "--db", db, "--addr", "127.0.0.1:0")
	resp, err := http.Post(url+"/api/streams/order-1/events", "application/json",
		strings.NewReader(`{"expected_version": 0, "events": [{"id": "c1", "type": "OrderPlaced", "data": {"total": 10}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"version":1`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"evstore_writes_total{", `evstore_server_requests_total{http_request_method="POST"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The web console is at /.
	resp, err = http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Errorf("GET /: %d, %.200s; want the console's page", resp.StatusCode, body)
	}
	if s := stop(); s != 0 {
		t.Errorf("status %d after the interrupt, want 0", s)
	}
	if out := mustCLI(t, db, "read", "order-1", "--json"); !strings.Contains(out, `"data":{"total":10}`) {
		t.Errorf("the file after serve: %s", out)
	}
}

// TestServeRefuses: without tokens serve refuses an address that is not
// loopback; bad flags and token files stop it before it listens.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.txt")
	os.WriteFile(short, []byte("secret\n"), 0o600)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# nothing\n"), 0o600)
	db := filepath.Join(dir, "x.db")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "refusing to listen on 0.0.0.0:0 without tokens"},
		{[]string{"--addr", ":0"}, "refusing to listen"},
		{[]string{"--token-file", short}, "too easy to guess"},
		{[]string{"--token-file", empty}, "no token"},
		{[]string{"--token-file", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--tls-cert", "x.pem"}, "together"},
		{[]string{"--max-body", "0"}, "positive"},
	} {
		_, errOut, status := cli(t, db, append([]string{"serve"}, c.args...)...)
		if status != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("serve %v: status %d, %q; want 1 saying %q", c.args, status, errOut, c.says)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused serve created the database")
	}
}

// TestServeTokensTLS: with --token-file a request needs a token; with
// --tls-cert and --tls-key the API is served over HTTPS.
func TestServeTokensTLS(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.txt")
	os.WriteFile(tokens, []byte("w-0123456789abcdef\nread:r-0123456789abcdef\n"), 0o600)
	cert, key, pool := selfSigned(t, dir)
	url, _ := serve(t, "--db", filepath.Join(dir, "t.db"), "--addr", "127.0.0.1:0", "--token-file", tokens, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s, want https", url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, c := range []struct {
		method, token string
		status        int
	}{
		{"GET", "", 401},
		{"GET", "r-0123456789abcdef", 200},
		{"POST", "r-0123456789abcdef", 403},
		{"POST", "w-0123456789abcdef", 200},
	} {
		req, _ := http.NewRequest(c.method, url+"/api/streams/s/events", strings.NewReader(`{"events": [{"type": "A"}]}`))
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s with token %q: status %d, want %d", c.method, c.token, resp.StatusCode, c.status)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "evstore test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}
