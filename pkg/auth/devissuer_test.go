package auth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"hermez/pkg/auth"
)

// web and worker started together in one directory must share one key, or
// the tokens one mints are refused by the other.
func TestDevIssuerCreatedOnceUnderConcurrentStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".hermez")
	const n = 8
	jwks := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := auth.LoadOrCreateDevIssuer(dir, "hermez-backend-api")
			if err == nil {
				jwks[i] = d.JWKS()
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if !bytes.Equal(jwks[i], jwks[0]) {
			t.Fatalf("start %d got another key than start 0", i)
		}
	}
	// The same key again from the file; no temporary files left; 0600.
	d, err := auth.LoadOrCreateDevIssuer(dir, "hermez-backend-api")
	if err != nil || !bytes.Equal(d.JWKS(), jwks[0]) {
		t.Fatalf("reload: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "dev-jwt.pem" && e.Name() != ".gitignore" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "dev-jwt.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
}
