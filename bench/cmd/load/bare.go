package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"hermez/bench/load"
)

// serveBare is the bare limit of a GET scenario: it fetches the scenario's
// answer from -target once (as the scenario's first user), then serves the
// same status, headers and body bytes to every request on ADDR from a plain
// net/http handler — the cheapest Go server serving the same bytes, against
// which `-scenario me|categories` is compared (bench/bare.sh). Loopback
// only; it ends after -serve-for or on SIGINT/SIGTERM.
func (b *bench) serveBare(ctx context.Context) error {
	o := b.o
	if err := load.CheckLoopback("http://" + o.serveBare); err != nil {
		return err
	}
	path := map[string]string{"me": "/user/api/me/", "categories": "/deliveries/api/categories/"}[o.scenario]
	if path == "" {
		return fmt.Errorf("-serve-bare serves a GET scenario (me, categories), not %q", o.scenario)
	}
	tok, err := b.token(fmt.Sprintf("%s_%s_0", o.userPrefix, o.scenario))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.target+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := b.client.c.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", path, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: status %d, %v", path, res.StatusCode, err)
	}
	header := res.Header.Clone()
	header.Del("Date") // net/http writes its own
	header.Del("Content-Length")
	mux := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", o.serveBare)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.serveBare, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(os.Stdout, "serving the %d bytes of GET %s (%d headers) at http://%s%s for %s\n", len(body), path, len(header), ln.Addr(), path, o.serveFor)
	ctx, cancel := context.WithTimeout(ctx, o.serveFor)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve bare: %w", err)
	}
	return nil
}
