package evstore

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Metadata is stored as a JSON object. This file holds how a Write encodes
// it, so that what is stored always reads back as the map Read returns.

// maxMetadataDepth is how deeply metadata objects and arrays may nest.
// (SQLite's JSON functions stop at 1000.)
const maxMetadataDepth = 100

// encodeMetadata encodes m as a JSON object. Metadata made only of JSON's
// own Go types (maps, slices, strings, numbers, booleans, nil) is written
// as is; anything else (json.RawMessage, json.Number, types with their own
// MarshalJSON) is decoded back and written in that normal form, so that
// what is stored always reads back as the map Read returns and filters see.
func encodeMetadata(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	plain, err := plainJSON(m, 0)
	if err != nil {
		return nil, err
	}
	b, err := marshal(m)
	if err != nil || plain {
		return b, err
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		return nil, fmt.Errorf("does not read back as a JSON object: %v", err)
	}
	if _, err := plainJSON(back, 0); err != nil {
		return nil, err
	}
	if len(back) == 0 {
		return nil, nil
	}
	return marshal(back)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// plainJSON reports whether v holds only JSON's own Go types, and fails
// if it nests deeper than maxMetadataDepth or holds a string that is not
// UTF-8 text without NUL bytes (encoding/json would change the one, and
// PostgreSQL refuses the other).
func plainJSON(v any, depth int) (bool, error) {
	if depth > maxMetadataDepth {
		return false, fmt.Errorf("nested deeper than %d levels", maxMetadataDepth)
	}
	plain := true
	switch x := v.(type) {
	case nil, bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	case string:
		if !text(x) {
			return false, fmt.Errorf("string %q is not UTF-8 text without NUL bytes", x)
		}
	case map[string]any:
		for k, e := range x {
			if !text(k) {
				return false, fmt.Errorf("key %q is not UTF-8 text without NUL bytes", k)
			}
			p, err := plainJSON(e, depth+1)
			if err != nil {
				return false, err
			}
			plain = plain && p
		}
	case []any:
		for _, e := range x {
			p, err := plainJSON(e, depth+1)
			if err != nil {
				return false, err
			}
			plain = plain && p
		}
	default:
		plain = false
	}
	return plain, nil
}
