// Generates the multipart test vectors with Go's own mime/multipart writer, the code Notary's
// client uses (storage/httpstore.go NewMultiPartMetaRequest: CreateFormFile("files", role)).
// Run from this directory:  go run make_multipart_vectors.go
// It writes notary_publish.body (the POST body) and notary_publish.content_type (the header
// value). The boundary is fixed so the output is reproducible; Go normally picks 30 random
// bytes as 60 hex digits, which is the same shape.
package main

import (
	"bytes"
	"mime/multipart"
	"os"
)

func main() {
	body := &bytes.Buffer{}
	w := multipart.NewWriter(body)
	if err := w.SetBoundary("5d6f1bb8e2a7c05c47e06a6a0a2c3d1f7f1ac0a9e0c0de5b3a1f7e2d9c4b"); err != nil {
		panic(err)
	}
	parts := []struct{ role, data string }{
		{"root", `{"signed":{"_type":"Root","version":2},"signatures":[]}`},
		{"targets", "{\"signed\":{\"_type\":\"Targets\"},\r\n\"signatures\":[]}\r\n--not-a-boundary\r\n"},
		{"targets/releases", `{"signed":{"_type":"Targets","version":1},"signatures":[]}`},
		{"snapshot", ""},
		{`odd"name\x`, "binary\x00bytes\xff"},
	}
	for _, p := range parts {
		part, err := w.CreateFormFile("files", p.role)
		if err != nil {
			panic(err)
		}
		if _, err := part.Write([]byte(p.data)); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	if err := os.WriteFile("notary_publish.body", body.Bytes(), 0o644); err != nil {
		panic(err)
	}
	if err := os.WriteFile("notary_publish.content_type", []byte(w.FormDataContentType()), 0o644); err != nil {
		panic(err)
	}
}
