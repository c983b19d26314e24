// Package server is the HTTP API of "evstore serve": a JSON API under
// /api/ over an evstore Store, Server-Sent Events for live streams,
// /healthz and Prometheus metrics at /metrics. docs/server.md describes
// it for clients; the shapes of its requests and responses are fixed
// (fields may be added, none renamed), since clients in other languages
// read them.
//
//	srv, err := server.New(store, server.Config{Tokens: tokens})
//	hs := srv.HTTPServer("127.0.0.1:2113")
//	err = hs.ListenAndServe()
//
// Events travel in the shape of package eventjson, the lines of
// "evstore export". Errors are {"error": message, "code": kind}, with the
// expected and actual versions of a conflict (409) and the after and
// match of a failed condition (409).
//
// Security: bearer tokens (Config.Tokens, ParseTokens for a token file)
// compared in constant time, read-only tokens refused on writes (403);
// CheckAddr refuses a non-loopback address without tokens; no CORS
// header unless Config.CORSOrigins allows the origin; request bodies over
// Config.MaxBody are refused (413) before anything is written; the
// http.Server of HTTPServer has read, write and idle timeouts, from which
// SSE streams are exempt but for a deadline on each write.
package server
