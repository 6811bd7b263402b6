package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SyncBuffer collects a process's output; safe for concurrent writes and reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds cmd/web and cmd/worker once per test process and returns their paths.
func Binaries(t testing.TB) (web, worker string) {
	t.Helper()
	buildOnce.Do(func() {
		var root []byte
		root, buildErr = exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if buildErr != nil {
			buildErr = fmt.Errorf("find module root: %w", buildErr)
			return
		}
		binDir, buildErr = os.MkdirTemp("", "hermez-test-bin")
		if buildErr != nil {
			return
		}
		for _, name := range []string{"web", "worker"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
			cmd.Dir = strings.TrimSpace(string(root))
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "web"), filepath.Join(binDir, "worker")
}
