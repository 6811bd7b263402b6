package e2e

import (
	"net/http"
	"sync"
	"testing"

	"hermez/pkg/openapi"
)

var (
	validatorOnce sync.Once
	validator     *openapi.Validator
	validatorErr  error
)

func apiValidator(t *testing.T) *openapi.Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = openapi.NewValidator() })
	if validatorErr != nil {
		t.Fatalf("openapi: %v", validatorErr)
	}
	return validator
}

// httpClient validates every response it receives against the OpenAPI document.
func httpClient(t *testing.T) *http.Client {
	v := apiValidator(t)
	return &http.Client{Transport: v.Transport(nil, func(err error) { t.Errorf("openapi: %v", err) })}
}

// validate is kept for symmetry: responses are validated by httpClient's transport.
func (s *system) validate(t *testing.T, method, path string, status int, body []byte) {}

// validateFrame checks a socket frame against the document's frame schemas.
func validateFrame(t *testing.T, name string, raw []byte) {
	t.Helper()
	if err := apiValidator(t).ValidateFrame(raw); err != nil {
		t.Errorf("%s: frame does not match the OpenAPI document: %v\n%s", name, err, raw)
	}
}
