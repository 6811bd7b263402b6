package testutil

import (
	"net/url"
	"os"
	"strings"
)

// PgBouncerURL is TEST_PGBOUNCER_URL: a PgBouncer in transaction mode in front
// of TEST_DATABASE_URL's server, any database name passed through (.ci/run
// starts one); "" when unset.
func PgBouncerURL() string { return strings.TrimSpace(os.Getenv("TEST_PGBOUNCER_URL")) }

// Pooled is dbURL (a database on TEST_DATABASE_URL's server) reached through
// TEST_PGBOUNCER_URL: the pooler's host, port and user, dbURL's database and
// parameters; "" without TEST_PGBOUNCER_URL. Only processes and stores opened
// for a transaction pooler (DATABASE_POOLER=transaction,
// store.Options.TransactionPooler) may use it; a test's own checks go to
// dbURL directly.
func Pooled(dbURL string) string {
	pb := PgBouncerURL()
	if pb == "" || dbURL == "" {
		return ""
	}
	p, err := url.Parse(pb)
	if err != nil {
		return ""
	}
	d, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	d.Host, d.User = p.Host, p.User
	return d.String()
}

// DatabaseEnv is the database part of a process's environment for dbURL:
// through the pooler (DATABASE_POOLER=transaction) when TEST_PGBOUNCER_URL is
// set, else dbURL itself.
func DatabaseEnv(dbURL string) []string {
	if pooled := Pooled(dbURL); pooled != "" {
		return []string{"DATABASE_URL=" + pooled, "DATABASE_POOLER=transaction"}
	}
	return []string{"DATABASE_URL=" + dbURL}
}
