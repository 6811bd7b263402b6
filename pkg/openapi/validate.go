package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Validator checks responses against the document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	detail *openapi3.Schema
}

// NewValidator builds a validator over the embedded document.
func NewValidator() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: router: %w", err)
	}
	ref := doc.Components.Schemas["Detail"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("openapi: no Detail schema")
	}
	return &Validator{
		doc:    doc,
		router: r,
		detail: ref.Value,
		opts: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status is drift too
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.EnableFormatValidation(),
				openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)),
			},
		},
	}, nil
}

// Doc is the validator's parsed document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// ValidateResponse checks one response (status, headers, body) to req against
// the operation that req's method and path resolve to. A path without its
// trailing slash resolves like the slashed one (the server rewrites it). A
// path the document does not know answered 404, or a method it does not list
// answered 405, must carry the Detail error body; any other unknown route is an
// error. t is only used to mark the helper (it may be nil).
func (v *Validator) ValidateResponse(t interface{ Helper() }, req *http.Request, status int, header http.Header, body []byte) error {
	if t != nil {
		t.Helper()
	}
	r := req.Clone(context.Background())
	r.URL = cloneURL(req.URL)
	r.Body = http.NoBody
	switch r.Method {
	case http.MethodOptions:
		// CORS preflights are answered by the middleware for every route, without a body.
		if (status == http.StatusNoContent || status == http.StatusOK) && len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
	case http.MethodHead:
		// HEAD answers like GET without a body: the GET operation must exist.
		r.Method = http.MethodGet
		if _, _, err := v.router.FindRoute(r); err != nil && status < 400 {
			return fmt.Errorf("openapi: HEAD %s answered %d: no GET operation: %w", req.URL.Path, status, err)
		}
		return nil
	}
	route, params, err := v.router.FindRoute(r)
	if err == nil {
		for _, val := range params {
			if val == "" {
				// The router lets a parameter match an empty segment
				// (DELETE /user/api/me → /user/api/me/{userid}/): that is
				// not a match.
				err = v.noRoute(r.URL.Path)
				break
			}
		}
	}
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) {
			switch {
			case re.Reason == routers.ErrPathNotFound.Error() && status == http.StatusNotFound,
				re.Reason == routers.ErrMethodNotAllowed.Error() && status == http.StatusMethodNotAllowed:
				return v.validateDetail(req, status, header, body)
			}
		}
		return fmt.Errorf("openapi: %s %s answered %d: no operation in the document: %w", req.Method, req.URL.Path, status, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: v.opts,
		},
		Status:  status,
		Header:  header,
		Options: v.opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("openapi: %s %s (%s) answered %d: %w", req.Method, req.URL.Path, route.Operation.OperationID, status, err)
	}
	if status == http.StatusNoContent && len(bytes.TrimSpace(body)) > 0 {
		return fmt.Errorf("openapi: %s %s answered 204 with a body", req.Method, req.URL.Path)
	}
	return nil
}

// noRoute tells apart a path the document lists (with another method) from
// an unknown one.
func (v *Validator) noRoute(path string) error {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	if v.doc.Paths.Value(path) != nil {
		return &routers.RouteError{Reason: routers.ErrMethodNotAllowed.Error()}
	}
	return &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
}

func (v *Validator) validateDetail(req *http.Request, status int, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("openapi: %s %s answered %d with content type %q, want JSON", req.Method, req.URL.Path, status, ct)
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return fmt.Errorf("openapi: %s %s answered %d with invalid JSON: %w", req.Method, req.URL.Path, status, err)
	}
	if err := v.detail.VisitJSON(val, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("openapi: %s %s answered %d: body is not the error shape: %w", req.Method, req.URL.Path, status, err)
	}
	return nil
}

// ValidateSchema checks a decoded JSON value against a named component schema
// (e.g. "Quote" for the data of a quote_created socket event).
func (v *Validator) ValidateSchema(name string, body []byte) error {
	ref := v.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi: no schema %q", name)
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return fmt.Errorf("openapi: invalid JSON: %w", err)
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.VisitAsResponse()}, v.opts.SchemaValidationOptions...)
	if err := ref.Value.VisitJSON(val, opts...); err != nil {
		return fmt.Errorf("openapi: %s: %w", name, err)
	}
	return nil
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}
