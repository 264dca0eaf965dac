package api

import (
	_ "embed"
	"net/http"
)

// OpenAPISpec is the user API's OpenAPI 3 document.
//
//go:embed openapi.yaml
var OpenAPISpec []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPISpec)
}
