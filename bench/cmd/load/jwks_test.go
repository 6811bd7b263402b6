package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"hermez/pkg/auth"
)

// -serve-jwks + -issuer: the tokens verify the way the server verifies Clerk's
// (JWKS over HTTP, issuer URL, audience, azp).
func TestServeJWKSAndIssuerTokens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	key := filepath.Join(t.TempDir(), "issuer", "dev-jwt.pem")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveJWKS(ctx, options{serveJWKS: addr, serveFor: time.Minute, devKey: key, audience: "hermez-backend-api"})
	}()
	url := "http://" + addr
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(url + "/.well-known/jwks.json")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 && len(b) > 0 {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatal("JWKS never served")
		}
	}

	kf, err := auth.NewClerkKeyfunc(ctx, url, time.Hour, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api", AuthorizedParty: []string{"http://localhost:4321"}})
	v.AddIssuer(url, kf)

	o := options{devKey: key, audience: "hermez-backend-api", issuerURL: url, azp: "http://localhost:4321",
		target: "http://127.0.0.1:1", workers: 1, duration: time.Second, runs: 1, sockets: 1, events: 1, dialers: 1, maxOps: 1}
	b, err := newBench(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.token("bench_user_1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(ctx, tok)
	if err != nil || c.Subject != "bench_user_1" || c.Issuer != url || c.AuthorizedParty != "http://localhost:4321" {
		t.Fatalf("issuer token: %+v %v", c, err)
	}
	// A development token (no -issuer) is not accepted there.
	b.o.issuerURL = ""
	dev, _ := b.token("bench_user_2")
	if _, err := v.Verify(ctx, dev); err == nil {
		t.Fatal("a development token verified against the Clerk-like issuer")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveJWKS did not stop")
	}
}
