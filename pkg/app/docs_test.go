package app_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// The contract lives in docs/ (api.md, realtime.md, config.md,
// data-model.md). These tests keep it true: a route either process
// registers, an event type the code sends, or a variable the config reads
// that the docs do not mention fails here. Add it to the docs, not to an
// exception list.

// docText is docs/<name> as the tests match it: path parameters written
// {anything} become {}.
func docText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatalf("the contract must be in the repository: %v", err)
	}
	return regexp.MustCompile(`\{[^}/\s]*\}`).ReplaceAllString(string(b), "{}")
}

var echoParam = regexp.MustCompile(`:[A-Za-z_]+`)

// documentedMethods are the methods a route table line names.
var documentedMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func TestEveryRouteIsInTheDocs(t *testing.T) {
	st := testutil.NewStore(t)
	cfg := testutil.Config(t) // single-process: web also serves the sockets
	broker, err := app.OpenBroker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	web, err := app.BuildWeb(ctx, cfg, testutil.Logger(), st, broker)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := app.BuildWorker(ctx, cfg, testutil.Logger(), st, broker, app.WorkerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	docs := docText(t, "api.md") + docText(t, "realtime.md")
	lines := strings.Split(docs, "\n")
	seen := map[string]bool{}
	var missing []string
	for _, h := range []any{web.Handler, worker.Handler} {
		for _, r := range h.(*echo.Echo).Routes() {
			path := echoParam.ReplaceAllString(r.Path, "{}")
			if seen[r.Method+" "+path] {
				continue
			}
			seen[r.Method+" "+path] = true
			quoted := "`" + path + "`"
			if !strings.Contains(docs, quoted) {
				missing = append(missing, r.Method+" "+r.Path+" (path not in docs/api.md nor docs/realtime.md)")
				continue
			}
			if !slices.Contains(documentedMethods, r.Method) || strings.HasPrefix(path, "/ws/") || strings.Contains(path, "*") {
				continue // sockets are GET upgrades; catch-alls answer every method
			}
			found := false
			for _, l := range lines {
				if strings.Contains(l, quoted) && strings.Contains(l, r.Method) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, r.Method+" "+r.Path+" (no line of the docs names this method with the path)")
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("undocumented route: %s", m)
	}
	if len(seen) < 60 {
		t.Fatalf("only %d routes registered: is the server built as in production?", len(seen))
	}
}

// eventTypes are the frame types the code sends: the exported string
// constants of pkg/realtime that look like event names, and the `Type:`
// literals of pkg/ws (the first frames).
func eventTypes(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`^[a-z][a-z_.]*$`)
	var out []string
	for _, dir := range []string{"../realtime", "../ws"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					if dir != "../realtime" {
						return true
					}
					for i, id := range n.Names {
						if i < len(n.Values) && id.IsExported() {
							if v := stringLit(n.Values[i]); name.MatchString(v) {
								out = append(out, v)
							}
						}
					}
				case *ast.KeyValueExpr:
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Type" {
						if v := stringLit(n.Value); name.MatchString(v) {
							out = append(out, v)
						}
					}
				}
				return true
			})
		}
	}
	return out
}

func stringLit(e ast.Expr) string {
	if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
		s, _ := strconv.Unquote(b.Value)
		return s
	}
	return ""
}

func TestEveryEventTypeIsInTheDocs(t *testing.T) {
	docs := docText(t, "realtime.md")
	types := eventTypes(t)
	for _, must := range []string{realtime.QuoteCreated, realtime.OfferAcceptedDot, realtime.StatsUpdated, "user_quotes.initial"} {
		if !slices.Contains(types, must) {
			t.Fatalf("the scan of the code missed %q: fix eventTypes", must)
		}
	}
	for _, typ := range types {
		if !strings.Contains(docs, "`"+typ+"`") && !strings.Contains(docs, `"`+typ+`"`) {
			t.Errorf("event type %q is sent but not in docs/realtime.md", typ)
		}
	}
}

func TestEveryVariableIsInTheDocs(t *testing.T) {
	docs := docText(t, "config.md")
	ct := reflect.TypeOf(config.Config{})
	n := 0
	for i := range ct.NumField() {
		name := ct.Field(i).Tag.Get("envconfig")
		if name == "" {
			continue
		}
		n++
		if !strings.Contains(docs, "`"+name+"`") {
			t.Errorf("%s is read by pkg/config but not in docs/config.md", name)
		}
	}
	if n < 30 {
		t.Fatalf("only %d variables found: is the envconfig tag still how pkg/config names them?", n)
	}
}
