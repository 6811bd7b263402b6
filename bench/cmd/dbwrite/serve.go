package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"hermez/pkg/store"
)

// server is the bare HTTP writer (-serve): the ceiling of any HTTP service
// that writes a quote's rows on this machine. Its POST
// /deliveries/api/quotes/ reads the body and decodes it (400 when it is not
// a quote), writes the rows the reference writes with the same function
// (writer.writeQuote: the same -tx, the published mark batched the same
// way, a pool of web's 20 connections) and answers 201 with {"id": …}.
// Nothing else: no token verification (the token's claims are read,
// unverified, only to know whom the quote is for — the load tool's users,
// as on web), no middleware, no rendering per request (the frames'
// template is rendered once per client and body and kept, up to
// maxShapes), no Redis, no logging per request. GET
// /deliveries/api/categories/ lists the active categories' ids and names,
// which is all the load tool's quote scenario reads from it.
type server struct {
	pool     *pgxpool.Pool
	w        writer
	payload  string
	cats     map[uuid.UUID]store.Category
	catsJSON []byte
	users    sync.Map // user id → struct{}: their row exists
	shapes   sync.Map // claims and body → *shape
	nShapes  atomic.Int64
	written  atomic.Int64
	failed   atomic.Int64
	dropped  atomic.Int64 // the client went away first (the load tool's end)
	log      *slog.Logger
}

// maxShapes bounds the kept templates (the load tool posts one body per user).
const maxShapes = 10_000

const quotesPath = "/deliveries/api/quotes/"

func newServer(ctx context.Context, w writer, payload string, log *slog.Logger) (*server, error) {
	pool := w.pool
	cats, err := activeCategories(ctx, pool)
	if err != nil {
		return nil, err
	}
	type item struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	list := make([]item, len(cats))
	for i, c := range cats {
		list[i] = item{c.ID.String(), c.Name}
	}
	j, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return &server{pool: pool, w: w, payload: payload, cats: catalog(cats), catsJSON: j, log: log}, nil
}

func catalog(cats []store.Category) map[uuid.UUID]store.Category {
	m := make(map[uuid.UUID]store.Category, len(cats))
	for _, c := range cats {
		m[c.ID] = c
	}
	return m
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == quotesPath:
		s.createQuote(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/deliveries/api/categories/":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.catsJSON)
	default:
		answer(w, http.StatusNotFound, `{"detail":"No encontrado."}`)
	}
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (s *server) createQuote(w http.ResponseWriter, r *http.Request) {
	c, ok := tokenClient(r.Header.Get("Authorization"))
	if !ok {
		answer(w, http.StatusUnauthorized, `{"detail":"Las credenciales de autenticación no se proveyeron."}`)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		answer(w, http.StatusBadRequest, `{"detail":"unreadable body"}`)
		return
	}
	b, cat, err := decodeBody(body, s.cats)
	if err != nil {
		detail, _ := json.Marshal(err.Error())
		answer(w, http.StatusBadRequest, `{"detail":`+string(detail)+`}`)
		return
	}
	sh, err := s.shape(c, cat, b, body)
	if err == nil {
		err = s.ensureUser(r.Context(), c)
	}
	var id uuid.UUID
	if err == nil {
		id, err = s.w.writeQuote(r.Context(), sh)
	}
	if err != nil && r.Context().Err() != nil {
		s.dropped.Add(1)
		return
	}
	if err != nil {
		if s.failed.Add(1) <= 5 {
			s.log.Error("create quote", "err", err)
		}
		answer(w, http.StatusInternalServerError, `{"detail":"Error interno."}`)
		return
	}
	s.written.Add(1)
	answer(w, http.StatusCreated, `{"id":"`+id.String()+`"}`)
}

// shape is the kept template of c posting body (rendered on first use).
func (s *server) shape(c client, cat store.Category, b quoteBody, body []byte) (*shape, error) {
	key := strings.Join([]string{c.ID, c.Username, c.FirstName, c.LastName, c.Email, string(body)}, "\x00")
	if sh, ok := s.shapes.Load(key); ok {
		return sh.(*shape), nil
	}
	sh, err := newShape(c, cat, b, s.payload)
	if err != nil {
		return nil, err
	}
	if s.nShapes.Load() < maxShapes {
		if _, loaded := s.shapes.LoadOrStore(key, sh); !loaded {
			s.nShapes.Add(1)
		}
	}
	return sh, nil
}

// ensureUser writes c's users row the first time c posts, as web's
// authentication creates it (the quote's foreign key needs it).
func (s *server) ensureUser(ctx context.Context, c client) error {
	if _, ok := s.users.Load(c.ID); ok {
		return nil
	}
	if err := insertUsers(ctx, s.pool, c); err != nil {
		return err
	}
	s.users.Store(c.ID, struct{}{})
	return nil
}

// tokenClient reads the client a bearer token names: its claims (sub,
// username, names, email), not verified.
func tokenClient(header string) (client, bool) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return client{}, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return client{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return client{}, false
	}
	var cl struct {
		Sub       string `json:"sub"`
		Username  string `json:"username"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string `json:"email"`
	}
	if err := json.Unmarshal(raw, &cl); err != nil || cl.Sub == "" || len(cl.Sub) > 100 {
		return client{}, false
	}
	return client{ID: cl.Sub, Username: cl.Username, FirstName: cl.FirstName, LastName: cl.LastName, Email: cl.Email}, true
}

// serve runs the bare HTTP writer on cfg.serve until ctx ends or
// cfg.serveFor passes, then marks what is queued and prints what it wrote.
func serve(ctx context.Context, cfg config, pool *pgxpool.Pool, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.serveFor)
	defer cancel()
	w := writer{pool: pool, tx: cfg.tx}
	if cfg.marks == "batched" {
		w.m = newMarker(pool)
		go w.m.run(context.WithoutCancel(ctx))
	}
	s, err := newServer(ctx, w, cfg.payload, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.serve)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.serve, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "serving POST %s at http://%s (conns=%d marks=%s tx=%s payload=%s) for %s\n", quotesPath, ln.Addr(), cfg.conns, cfg.marks, cfg.tx, cfg.payload, cfg.serveFor)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	cancel()
	<-stopped
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if w.m != nil {
		if err := w.m.stop(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "served quotes=%d errors=%d dropped=%d (the client gone first)\n", s.written.Load(), s.failed.Load(), s.dropped.Load())
	return nil
}
