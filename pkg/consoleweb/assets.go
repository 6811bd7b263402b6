package consoleweb

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// asset is one static file, pre-compressed at startup.
type asset struct {
	name  string // hashed name: app.3f2a1c9d0e.css
	ctype string
	etag  string
	raw   []byte
	gz    []byte
}

// assets maps logical names (app.css) to hashed URLs and hashed names to files:
// content-hashed names may be cached forever (the WhiteNoise role).
type assets struct {
	byLogical map[string]*asset
	byHashed  map[string]*asset
}

func loadAssets() (*assets, error) {
	a := &assets{byLogical: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		logical := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(raw)
		h := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(logical)
		hashed := strings.TrimSuffix(logical, ext) + "." + h + ext
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		as := &asset{name: hashed, ctype: ctype, etag: `"` + h + `"`, raw: raw, gz: buf.Bytes()}
		a.byLogical[logical] = as
		a.byHashed[hashed] = as
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin static files: %w", err)
	}
	return a, nil
}

// url is the hashed URL of a logical static name (templates: {{static "app.css"}}).
func (a *assets) url(logical string) (string, error) {
	as, ok := a.byLogical[logical]
	if !ok {
		return "", fmt.Errorf("no static file %q", logical)
	}
	return "/admin/static/" + as.name, nil
}

// serve answers /admin/static/<hashed name>: gzip when accepted, immutable caching.
func (a *assets) serve(c echo.Context) error {
	as, ok := a.byHashed[c.Param("name")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", as.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, as.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(http.StatusOK, as.ctype, as.gz)
	}
	return c.Blob(http.StatusOK, as.ctype, as.raw)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
