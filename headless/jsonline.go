package headless

import "github.com/sottochat/sotto/internal/jsonenc"

// appendJSON and appendString encode into dst, never into encoding/json's
// pooled buffers (see package jsonenc, threat T22).
func appendJSON(dst []byte, v any) ([]byte, error) { return jsonenc.Append(dst, v) }

func appendString(dst []byte, s string) []byte { return jsonenc.AppendString(dst, s) }
