package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"hermez/bench/load"
	"hermez/pkg/auth"
)

// serveJWKS stands in for Clerk: it serves the public half of the -dev-key key
// (created if missing) so that a server with CLERK_FRONTEND_API_URL=http://ADDR
// and DEBUG=false verifies the tool's -issuer tokens the production way.
// Loopback only; it ends after -serve-for or on SIGINT/SIGTERM.
func serveJWKS(ctx context.Context, o options) error {
	if err := load.CheckLoopback("http://" + o.serveJWKS); err != nil {
		return err
	}
	if o.serveFor <= 0 || o.serveFor > 24*time.Hour {
		return errors.New("-serve-for must be in (0, 24h]")
	}
	if filepath.Base(o.devKey) != "dev-jwt.pem" {
		return fmt.Errorf("-dev-key must name a file called dev-jwt.pem (got %s)", o.devKey)
	}
	iss, err := auth.LoadOrCreateDevIssuer(filepath.Dir(o.devKey), o.audience)
	if err != nil {
		return err
	}
	jwks := iss.JWKS()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	ln, err := net.Listen("tcp", o.serveJWKS)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.serveJWKS, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(os.Stdout, "serving the JWKS of %s at http://%s/.well-known/jwks.json for %s\n", o.devKey, ln.Addr(), o.serveFor)
	ctx, cancel := context.WithTimeout(ctx, o.serveFor)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve JWKS: %w", err)
	}
	return nil
}
