package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-event-sourcing/evstore/internal/console"
	"github.com/go-event-sourcing/evstore/internal/server"
	"github.com/go-event-sourcing/evstore/open"
)

// shutdownTimeout is how long serve waits, once interrupted, for the
// requests in progress to finish.
const shutdownTimeout = 10 * time.Second

// runServe serves the store's HTTP API (docs/server.md) until SIGINT or
// SIGTERM, then shuts down gracefully: Server-Sent Events streams end at
// once, other requests get shutdownTimeout to finish.
func runServe(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [flags]", "evstore serve --db events.db --addr 127.0.0.1:2113 --token-file tokens.txt", stderr)
	sf := addStoreFlags(g, fs)
	addr := fs.String("addr", "127.0.0.1:2113", "host:port to listen on; anything but loopback needs --token-file")
	tokenFile := fs.String("token-file", "", "bearer tokens, one a line; a line read:TOKEN grants reads only")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM), with --tls-key: serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM), with --tls-cert")
	var origins listFlag
	fs.Var(&origins, "cors-origin", "an `origin` whose browser pages may call the API (https://admin.example.com, or * for any); repeatable; default none")
	maxBody := fs.Int64("max-body", server.DefaultMaxBody, "the most bytes a request body may hold")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("give --tls-cert and --tls-key together")
	}
	if *maxBody <= 0 {
		return errors.New("--max-body must be positive")
	}
	var tokens []server.Token
	if *tokenFile != "" {
		f, err := os.Open(*tokenFile)
		if err != nil {
			return err
		}
		tokens, err = server.ParseTokens(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--token-file %s: %w", *tokenFile, err)
		}
	}
	if err := server.CheckAddr(ctx, *addr, len(tokens) > 0); err != nil {
		return err
	}

	metrics, err := server.NewMetrics()
	if err != nil {
		return err
	}
	defer metrics.Shutdown(context.Background())
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	store, err := sf.open(ctx, readWrite, open.WithTracer(metrics.Tracer()), open.WithLogger(logger))
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := server.New(store, server.Config{
		Tokens: tokens, CORSOrigins: origins, MaxBody: *maxBody, Metrics: metrics, Logger: logger,
		Console: console.Handler(),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// A name CheckAddr took for loopback may have been bound elsewhere.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && len(tokens) == 0 && !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("refusing to listen on %s without tokens: give --token-file", ln.Addr())
	}
	hs := srv.HTTPServer(ln.Addr().String())
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	served := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			served <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			served <- hs.Serve(ln)
		}
	}()
	auth := "no tokens: loopback only"
	if len(tokens) > 0 {
		auth = fmt.Sprintf("%d tokens", len(tokens))
	}
	fmt.Fprintf(stdout, "evstore serve: listening on %s://%s (%s)\n", scheme, ln.Addr(), auth)

	select {
	case err := <-served: // it could not serve: a bad certificate, say
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	fmt.Fprintln(stdout, "evstore serve: stopped")
	return nil
}
