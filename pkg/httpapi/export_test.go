package httpapi

// ReadBody exposes body() to the external tests (a route of their own that
// decodes a request body the way every handler does).
var ReadBody = body
