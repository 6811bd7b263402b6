package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// restoreDjango loads the Django schema and data set A (copies in
// pkg/djangoimport/testdata) into an empty database.
func restoreDjango(t *testing.T, dbURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, f := range []string{"schema.sql", "dataset-a.sql"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "djangoimport", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("restore %s: %v", f, err)
		}
	}
}

func countRows(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// The real process, killed with SIGKILL in the middle of a table, then run
// again: the second run finishes and verifies, a third has nothing to do.
func TestImportDjangoKilledProcessResumes(t *testing.T) {
	srcURL, src := emptyPostgres(t)
	dstURL, dst := emptyPostgres(t)
	restoreDjango(t, srcURL)
	// More history rows, so the kill lands mid-table.
	if _, err := src.Exec(`INSERT INTO deliveries_deliveryhistory (id, history_id, event_type, description, created_at, changed_by_id)
		SELECT gen_random_uuid(), h.history_id, 'status_changed', 'Estado cambiado de assigned a picked_up', h.created_at + g * interval '1 second', h.changed_by_id
		FROM generate_series(1, 200) g, deliveries_deliveryhistory h`); err != nil {
		t.Fatal(err)
	}
	total := countRows(t, src, `SELECT count(*) FROM deliveries_deliveryhistory`)
	bin := binary(t, "web")
	dir := t.TempDir()
	env := emptyEnv(dir, "DATABASE_URL="+dstURL, "DEBUG=true", "DJANGO_DATABASE_URL="+srcURL)

	p := start(t, bin, dir, env, "import-django", "--batch-size", "50")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		// The table may not exist yet (the command migrates first).
		if err := dst.QueryRow(`SELECT count(*) FROM delivery_history`).Scan(&n); err == nil && n > 0 {
			break
		}
		select {
		case err := <-p.done:
			p.done <- err // for start's cleanup
			t.Fatalf("the import ended before it was killed: %v\n%s", err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no history row written in time:\n%s", p.out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.done <- <-p.done // exited; left for start's cleanup
	got := countRows(t, dst, `SELECT count(*) FROM delivery_history`)
	if got == 0 || got >= total || got%50 != 0 {
		t.Fatalf("after the kill: %d of %d history rows (want whole batches of 50, not all)", got, total)
	}
	t.Logf("killed with %d of %d history rows written", got, total)
	if n := countRows(t, dst, `SELECT count(*) FROM user_rating`); n != 0 {
		t.Fatalf("ratings written before history finished: %d", n)
	}

	out, errOut, err := runOnce(t, bin, dir, env, "import-django")
	if err != nil || !strings.Contains(out, "verification passed") {
		t.Fatalf("re-run: %v\n%s\n%s", err, out, errOut)
	}
	if n := countRows(t, dst, `SELECT count(*) FROM delivery_history`); n != total {
		t.Fatalf("history after the re-run: %d of %d", n, total)
	}
	out, errOut, err = runOnce(t, bin, dir, env, "import-django")
	if err != nil || !strings.Contains(out, "Nothing to do") {
		t.Fatalf("third run: %v\n%s\n%s", err, out, errOut)
	}

	// A mismatch or a refusal exits non-zero.
	if _, err := dst.Exec(`UPDATE deliveries SET final_price = final_price + 1 WHERE id = (SELECT id FROM deliveries ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	out, _, err = runOnce(t, bin, dir, env, "import-django")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "MISMATCH") {
		t.Fatalf("a mismatch: %v\n%s", err, out)
	}
}
