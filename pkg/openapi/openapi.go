// Package openapi is the OpenAPI 3 document of the whole HTTP API (written in
// openapi.yaml, served as JSON at GET /openapi.json) and a validator that
// checks real responses against it, so tests catch any drift between the
// document and the server.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

//go:embed openapi.yaml
var source []byte

var (
	once    sync.Once
	specRaw []byte
	specErr error
)

func load() {
	once.Do(func() {
		doc, err := Load()
		if err != nil {
			specErr = err
			return
		}
		specRaw, specErr = json.Marshal(doc)
	})
}

// Load parses the embedded document (a fresh copy each call) and validates it.
func Load() (*openapi3.T, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(source)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	return doc, nil
}

// Spec is the document as JSON. It panics if the embedded document is
// invalid, which the package's tests rule out.
func Spec() []byte {
	load()
	if specErr != nil {
		panic(specErr)
	}
	return specRaw
}

// Register serves GET /openapi.json (no auth: it documents a public contract).
func Register(e *echo.Echo) {
	b := Spec()
	e.GET("/openapi.json", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	})
}
