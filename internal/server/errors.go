package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// errorJSON is every error's body: "error" says what was wrong, "code"
// which kind of error it is, for programs (see codes). A conflict adds
// the versions, a failed condition its positions.
type errorJSON struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// A *ConflictError's:
	StreamID string `json:"stream_id,omitempty"`
	Expected *int64 `json:"expected,omitempty"`
	Actual   *int64 `json:"actual,omitempty"`
	// A *ConditionError's:
	After *int64 `json:"after,omitempty"`
	Match *int64 `json:"match,omitempty"`
}

// The codes of errorJSON, one per kind of error: the evstore sentinel
// errors' (a client maps them back), and the server's own.
const (
	codeConflict        = "conflict"           // 409, a *ConflictError: ExpectVersion or ExpectExists did not hold
	codeCondition       = "condition"          // 409, a *ConditionError: FailIfMatch matched
	codeInvalidEvent    = "invalid_event"      // 400
	codeInvalidStreamID = "invalid_stream_id"  // 400
	codeInvalidFilter   = "invalid_filter"     // 400
	codeInvalidArgument = "invalid_argument"   // 400
	codeReadOnly        = "read_only"          // 400: a write to @all, or to a store opened read-only
	codeBadRequest      = "bad_request"        // 400: a body or parameter that does not parse
	codeUnauthorized    = "unauthorized"       // 401
	codeForbidden       = "forbidden"          // 403: a write with a read-only token
	codeNotFound        = "not_found"          // 404
	codeMethod          = "method_not_allowed" // 405: a method the console does not serve
	codeTooLarge        = "too_large"          // 413
	codeUnsupported     = "unsupported"        // 501: the store lacks the capability
	codeClosed          = "closed"             // 503: the store is closing
	codeCorrupt         = "corrupt"            // 500
	codeInternal        = "internal"           // 500
)

// statusOf returns the status and body that report err.
func statusOf(err error) (int, errorJSON) {
	body := errorJSON{Error: err.Error()}
	var conflict *evstore.ConflictError
	var cond *evstore.ConditionError
	var tooLarge *http.MaxBytesError
	var bad *badRequest
	switch {
	case errors.As(err, &cond):
		body.Code, body.After, body.Match = codeCondition, &cond.After, &cond.Match
		return http.StatusConflict, body
	case errors.As(err, &conflict):
		body.Code, body.StreamID, body.Expected, body.Actual = codeConflict, conflict.StreamID, &conflict.Expected, &conflict.Actual
		return http.StatusConflict, body
	case errors.As(err, &tooLarge):
		body.Code = codeTooLarge
		body.Error = fmt.Sprintf("request body over the limit of %d bytes", tooLarge.Limit)
		return http.StatusRequestEntityTooLarge, body
	case errors.As(err, &bad):
		body.Code = codeBadRequest
		return http.StatusBadRequest, body
	}
	for _, k := range []struct {
		sentinel error
		status   int
		code     string
	}{
		{evstore.ErrConflict, http.StatusConflict, codeConflict},
		{evstore.ErrInvalidEvent, http.StatusBadRequest, codeInvalidEvent},
		{evstore.ErrInvalidStreamID, http.StatusBadRequest, codeInvalidStreamID},
		{evstore.ErrInvalidFilter, http.StatusBadRequest, codeInvalidFilter},
		{evstore.ErrInvalidArgument, http.StatusBadRequest, codeInvalidArgument},
		{evstore.ErrReadOnly, http.StatusBadRequest, codeReadOnly},
		{evstore.ErrUnsupported, http.StatusNotImplemented, codeUnsupported},
		{evstore.ErrClosed, http.StatusServiceUnavailable, codeClosed},
		{context.Canceled, http.StatusServiceUnavailable, codeClosed},
		{evstore.ErrCorrupt, http.StatusInternalServerError, codeCorrupt},
	} {
		if errors.Is(err, k.sentinel) {
			body.Code = k.code
			return k.status, body
		}
	}
	body.Code = codeInternal
	return http.StatusInternalServerError, body
}

// A badRequest is a request that does not parse: a body that is not the
// JSON asked for, a parameter that is not a number.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{msg: fmt.Sprintf(format, args...)} }

// fail writes err as its status and JSON body, and logs it when it is
// the server's fault.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := statusOf(err)
	if status >= 500 && status != http.StatusNotImplemented {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	}
	writeJSON(w, status, body)
}

// failCode writes an error of the server's own.
func failCode(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorJSON{Error: msg, Code: code})
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jsonHeaders(w)
	w.WriteHeader(status)
	_ = eventjson.NewEncoder(w).Encode(v) // an error means the client is gone
}

// jsonHeaders sets the headers of a JSON response: never cached, never
// sniffed into anything else by a browser.
func jsonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
